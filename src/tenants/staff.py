"""Clinic staff: users, API tokens and sessions (inside a tenant transaction)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError, VerifyMismatchError

from carebook.errors import Conflict
from carebook.tokens import new_token, token_digest

SESSION_LIFETIME = timedelta(hours=12)
ROLES = ("admin", "receptionist", "specialist")
# Sign-in lockout: this many failures in a row lock the account for LOCKOUT.
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
_hasher = PasswordHasher()
# Verifying against this keeps login timing the same whether or not the email exists.
_DUMMY_HASH = _hasher.hash("carebook-dummy-password")


@dataclass(frozen=True)
class StaffPrincipal:
    """Who is calling a staff route, and how they proved it."""

    id: UUID
    email: str
    name: str
    role: str
    via: str  # "token" or "session"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def sees_all_appointments(self) -> bool:
        """Admins and the front desk see every appointment; a specialist only their own."""
        return self.role in ("admin", "receptionist")

    @property
    def appointment_scope(self) -> UUID | None:
        """What bounds this caller's reads of patient data: None for the whole clinic, else
        their own staff-user id, the ``specialists.staff_user`` of the appointments they see.

        Every staff read of appointment-bound data filters in SQL with
        ``($n::uuid IS NULL OR specialists.staff_user = $n)``; a row outside it is as absent
        (404) as a missing one.
        """
        return None if self.sees_all_appointments else self.id


async def create_staff_user(
    conn: asyncpg.Connection, *, email: str, name: str, role: str, password: str | None = None
) -> UUID:
    try:
        staff_id: UUID = await conn.fetchval(
            "INSERT INTO staff_users (email, name, role, password_hash) "
            "VALUES ($1, $2, $3, $4) RETURNING id",
            email,
            name,
            role,
            _hasher.hash(password) if password else None,
        )
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"A staff member with email {email} exists.", code="email_taken") from exc
    return staff_id


async def issue_token(conn: asyncpg.Connection, staff_id: UUID, name: str) -> str:
    token = new_token("cbk")
    await conn.execute(
        "INSERT INTO staff_api_tokens (staff_user, name, token_hash) VALUES ($1, $2, $3)",
        staff_id,
        name,
        token_digest(token),
    )
    return token


async def principal_for_token(conn: asyncpg.Connection, token: str) -> StaffPrincipal | None:
    row = await conn.fetchrow(
        """UPDATE staff_api_tokens t SET last_used_at = now()
           FROM staff_users u
           WHERE t.token_hash = $1 AND t.revoked_at IS NULL
             AND u.id = t.staff_user AND u.active
           RETURNING u.id, u.email, u.name, u.role""",
        token_digest(token),
    )
    return (
        StaffPrincipal(row["id"], row["email"], row["name"], row["role"], "token") if row else None
    )


async def revoke_token(conn: asyncpg.Connection, token_id: UUID, staff_id: UUID | None) -> bool:
    """Revoke a token (of ``staff_id`` only, unless None: an admin revoking anyone's)."""
    status: str = await conn.execute(
        "UPDATE staff_api_tokens SET revoked_at = now() "
        "WHERE id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR staff_user = $2)",
        token_id,
        staff_id,
    )
    return status.endswith(" 1")


async def start_session(
    conn: asyncpg.Connection, email: str, password: str
) -> tuple[str, asyncpg.Record] | None:
    """A new session for the right email and password; None otherwise.

    Every failure counts; ``MAX_FAILED_LOGINS`` in a row lock the account for ``LOCKOUT``
    (a locked account refuses even the right password, with the same answer).
    """
    row = await conn.fetchrow(
        "SELECT id, email, name, role, active, password_hash, "
        "coalesce(locked_until > now(), false) AS locked FROM staff_users "
        "WHERE lower(email) = lower($1)",
        email,
    )
    try:
        _hasher.verify(
            row["password_hash"] if row and row["password_hash"] else _DUMMY_HASH, password
        )
    except (VerifyMismatchError, VerificationError):
        if row is not None:
            await _count_failure(conn, row["id"])
        return None
    if row is None or not row["password_hash"] or not row["active"] or row["locked"]:
        return None
    await conn.execute(
        "UPDATE staff_users SET failed_logins = 0, locked_until = NULL WHERE id = $1", row["id"]
    )
    token = new_token("cbs")
    await conn.execute(
        "INSERT INTO staff_sessions (staff_user, token_hash, expires_at) "
        "VALUES ($1, $2, now() + $3)",
        row["id"],
        token_digest(token),
        SESSION_LIFETIME,
    )
    return token, row


async def _count_failure(conn: asyncpg.Connection, staff_id: UUID) -> None:
    await conn.execute(
        """UPDATE staff_users SET
               failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END,
               locked_until = CASE WHEN failed_logins + 1 >= $2 THEN now() + $3
                                   ELSE locked_until END
           WHERE id = $1""",
        staff_id,
        MAX_FAILED_LOGINS,
        LOCKOUT,
    )


async def principal_for_session(conn: asyncpg.Connection, token: str) -> StaffPrincipal | None:
    row = await conn.fetchrow(
        """SELECT u.id, u.email, u.name, u.role FROM staff_sessions s
           JOIN staff_users u ON u.id = s.staff_user
           WHERE s.token_hash = $1 AND s.expires_at > now() AND u.active""",
        token_digest(token),
    )
    return (
        StaffPrincipal(row["id"], row["email"], row["name"], row["role"], "session")
        if row
        else None
    )


async def end_session(conn: asyncpg.Connection, token: str) -> None:
    await conn.execute("DELETE FROM staff_sessions WHERE token_hash = $1", token_digest(token))


async def end_all_sessions(conn: asyncpg.Connection, staff_id: UUID) -> None:
    await conn.execute("DELETE FROM staff_sessions WHERE staff_user = $1", staff_id)


async def set_password(conn: asyncpg.Connection, email: str, password: str) -> None:
    await conn.execute(
        "UPDATE staff_users SET password_hash = $2 WHERE lower(email) = lower($1)",
        email,
        _hasher.hash(password),
    )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@dataclass(frozen=True)
class StaffContact:
    """Who a clinic message to staff goes to."""

    id: UUID
    email: str
    name: str


async def active_members(conn: asyncpg.Connection, role: str) -> list[StaffContact]:
    """Active staff members of ``role`` (e.g. the clinic admins an alert goes to)."""
    rows = await conn.fetch(
        "SELECT id, email, name FROM staff_users WHERE role = $1 AND active ORDER BY email", role
    )
    return [StaffContact(r["id"], r["email"], r["name"]) for r in rows]
