"""Messages to clinic staff (invitations, password resets) go through the notifications
domain: the same log, SMTP channel and local outbox as every other message.

``send`` writes a job (``notifications.staff_link``) in the caller's transaction, so the
message exists exactly when the change that caused it commits. The job carries the link's id
only — never the link, which is a credential — and the notifications domain derives the
link (``password_links.pending_link``), renders it in the clinic's language and delivers it.
"""

from __future__ import annotations

import logging
from uuid import UUID

import asyncpg

from carebook.jobs import outbox

log = logging.getLogger(__name__)
ACTOR = "notifications.staff_link"


async def send(conn: asyncpg.Connection, link_id: UUID) -> None:
    """Queue the e-mail carrying password link ``link_id`` (in the caller's transaction)."""
    await outbox.enqueue(conn, ACTOR, {"link_id": str(link_id)})
    log.info("staff mail queued for password link %s", link_id)
