"""One-time links with which staff choose a password: invitations and resets.

The token is random (256 bit), only its digest is stored; a link works once, until it
expires, and a newer link of the same staff member replaces older unused ones. Choosing a
password ends every session of that staff member.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote
from uuid import UUID

import asyncpg

from carebook.errors import NotFound, ValidationFailed
from carebook.settings import get_settings
from carebook.tokens import new_token, token_digest
from tenants import staff, staff_mail
from tenants.staff_mail import StaffMessage

LIFETIME = {"invite": timedelta(days=7), "reset": timedelta(hours=1)}
MIN_PASSWORD = 10


def link_url(clinic_slug: str, token: str) -> str:
    base = get_settings().base_url
    return f"{base}/c/{clinic_slug}/staff/password?token={quote(token, safe='')}"


async def issue_link(
    conn: asyncpg.Connection, clinic_slug: str, clinic_name: str, staff_id: UUID, purpose: str
) -> str:
    """A new link for ``staff_id`` (older unused ones stop working); queued as a message."""
    row = await conn.fetchrow("SELECT email, name FROM staff_users WHERE id = $1", staff_id)
    if row is None:
        raise NotFound("No such staff member.", code="staff_not_found")
    await conn.execute(
        "UPDATE staff_password_links SET used_at = now() WHERE staff_user = $1 AND used_at IS NULL",
        staff_id,
    )
    token = new_token("cbl")
    await conn.execute(
        "INSERT INTO staff_password_links (staff_user, purpose, token_hash, expires_at) "
        "VALUES ($1, $2, $3, now() + $4)",
        staff_id,
        purpose,
        token_digest(token),
        LIFETIME[purpose],
    )
    url = link_url(clinic_slug, token)
    if purpose == "invite":
        subject = f"You are invited to {clinic_name} on Carebook"
        body = (
            f"Hello {row['name']},\n\nchoose your password to sign in to {clinic_name}'s "
            f"staff pages (the link works once, for 7 days):\n\n{url}\n"
        )
    else:
        subject = f"Reset your {clinic_name} password"
        body = (
            f"Hello {row['name']},\n\nsomeone asked to reset your password. Choose a new one "
            f"here (the link works once, for 1 hour):\n\n{url}\n\n"
            "If it was not you, ignore this message.\n"
        )
    await staff_mail.send(conn, StaffMessage(row["email"], subject, body))
    return url


async def link_owner(conn: asyncpg.Connection, token: str) -> asyncpg.Record | None:
    """The staff member (id, email, name, purpose) a still valid link belongs to."""
    row: asyncpg.Record | None = await conn.fetchrow(
        """SELECT u.id, u.email, u.name, l.purpose FROM staff_password_links l
           JOIN staff_users u ON u.id = l.staff_user
           WHERE l.token_hash = $1 AND l.used_at IS NULL AND l.expires_at > now() AND u.active""",
        token_digest(token),
    )
    return row


async def use_link(conn: asyncpg.Connection, token: str, password: str) -> asyncpg.Record:
    """Set the password through a link (once); every existing session of the owner ends."""
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(
            f"Choose a password of at least {MIN_PASSWORD} characters.",
            code="password_too_short",
        )
    row = await conn.fetchrow(
        """UPDATE staff_password_links SET used_at = now()
           WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
           RETURNING staff_user""",
        token_digest(token),
    )
    if row is None:
        raise NotFound("This link is not valid any more.", code="link_invalid")
    owner = await conn.fetchrow(
        "UPDATE staff_users SET password_hash = $2, failed_logins = 0, locked_until = NULL "
        "WHERE id = $1 AND active RETURNING id, email, name, role",
        row["staff_user"],
        staff.hash_password(password),
    )
    if owner is None:
        raise NotFound("This link is not valid any more.", code="link_invalid")
    await staff.end_all_sessions(conn, owner["id"])
    return owner


async def request_reset(
    conn: asyncpg.Connection, clinic_slug: str, clinic_name: str, email: str
) -> None:
    """Send a reset link if ``email`` is an active staff member; say nothing either way."""
    staff_id = await conn.fetchval(
        "SELECT id FROM staff_users WHERE lower(email) = lower($1) AND active", email
    )
    if staff_id is not None:
        await issue_link(conn, clinic_slug, clinic_name, staff_id, "reset")
