"""Messages to clinic staff (invitations, password resets).

Until the notifications domain delivers e-mail, a message is written to the clinic's
``staff_mail_outbox`` table in the caller's transaction (so it exists exactly when the change
that caused it commits) and its recipient is logged — never the link itself, which is a
credential. Swap ``send`` for the notifications outbox when that lands; callers do not change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import asyncpg

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StaffMessage:
    to_email: str
    subject: str
    body: str


async def send(conn: asyncpg.Connection, message: StaffMessage) -> None:
    await conn.execute(
        "INSERT INTO staff_mail_outbox (to_email, subject, body) VALUES ($1, $2, $3)",
        message.to_email,
        message.subject,
        message.body,
    )
    log.info("staff mail queued: %s", message.subject)


async def outbox(conn: asyncpg.Connection, to_email: str | None = None) -> list[StaffMessage]:
    """Queued messages, newest first (all, or one recipient's)."""
    rows = await conn.fetch(
        "SELECT to_email, subject, body FROM staff_mail_outbox "
        "WHERE $1::text IS NULL OR lower(to_email) = lower($1) ORDER BY id DESC",
        to_email,
    )
    return [StaffMessage(r["to_email"], r["subject"], r["body"]) for r in rows]
