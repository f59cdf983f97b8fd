"""One-time links with which staff choose a password: invitations and resets.

The token is ``cbl_`` + HMAC(secret key, clinic, link id): worthless without the server's key,
and only its digest is stored. Because the link id is enough to derive it, the e-mail is
written by a job (``notifications.staff_link``) that carries the id only: no credential sits
in the job queue. A link works once, until it expires, and a newer link of the same staff
member replaces older unused ones. Choosing a password ends every session of that member.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote
from uuid import UUID, uuid4

import asyncpg

from carebook.errors import NotFound, ValidationFailed
from carebook.settings import get_settings
from carebook.tokens import token_digest
from tenants import staff, staff_mail

LIFETIME = {"invite": timedelta(days=7), "reset": timedelta(hours=1)}
MIN_PASSWORD = 10


def link_token(clinic_slug: str, link_id: UUID) -> str:
    """The link's secret, derived from its id under the server's key (bound to the clinic)."""
    mac = hmac.new(
        get_settings().secret_key.encode(),
        b"staff-password-link\x00" + clinic_slug.encode() + b"\x00" + link_id.bytes,
        hashlib.sha256,
    ).digest()
    return "cbl_" + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def link_url(clinic_slug: str, token: str) -> str:
    base = get_settings().base_url
    return f"{base}/c/{clinic_slug}/staff/password?token={quote(token, safe='')}"


async def issue_link(
    conn: asyncpg.Connection, clinic_slug: str, staff_id: UUID, purpose: str
) -> str:
    """A new link for ``staff_id`` (older unused ones stop working); its e-mail is queued in
    this transaction (``staff_mail.send``). Returns the link (shown once to whoever asked)."""
    exists = await conn.fetchval("SELECT 1 FROM staff_users WHERE id = $1", staff_id)
    if exists is None:
        raise NotFound("No such staff member.", code="staff_not_found")
    await conn.execute(
        "UPDATE staff_password_links SET used_at = now() WHERE staff_user = $1 AND used_at IS NULL",
        staff_id,
    )
    link_id = uuid4()
    token = link_token(clinic_slug, link_id)
    await conn.execute(
        "INSERT INTO staff_password_links (id, staff_user, purpose, token_hash, expires_at) "
        "VALUES ($1, $2, $3, $4, now() + $5)",
        link_id,
        staff_id,
        purpose,
        token_digest(token),
        LIFETIME[purpose],
    )
    await staff_mail.send(conn, link_id)
    return link_url(clinic_slug, token)


@dataclass(frozen=True)
class PendingLink:
    """What the e-mail carrying a still usable link needs (``notifications.staff_link``)."""

    link_id: UUID
    purpose: str  # "invite" | "reset"
    email: str
    name: str
    url: str
    expires_at: datetime


async def pending_link(
    conn: asyncpg.Connection, clinic_slug: str, link_id: UUID
) -> PendingLink | None:
    """The link ``link_id`` with its URL while it still works (unused, unexpired, the member
    active); ``None`` once it was used, replaced or expired: its e-mail is then pointless."""
    row = await conn.fetchrow(
        """SELECT l.purpose, l.expires_at, u.email, u.name FROM staff_password_links l
           JOIN staff_users u ON u.id = l.staff_user
           WHERE l.id = $1 AND l.used_at IS NULL AND l.expires_at > now() AND u.active""",
        link_id,
    )
    if row is None:
        return None
    url = link_url(clinic_slug, link_token(clinic_slug, link_id))
    return PendingLink(link_id, row["purpose"], row["email"], row["name"], url, row["expires_at"])


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


async def request_reset(conn: asyncpg.Connection, clinic_slug: str, email: str) -> None:
    """Send a reset link if ``email`` is an active staff member; say nothing either way."""
    staff_id = await conn.fetchval(
        "SELECT id FROM staff_users WHERE lower(email) = lower($1) AND active", email
    )
    if staff_id is not None:
        await issue_link(conn, clinic_slug, staff_id, "reset")
