"""What staff see of the local outbox (``GET /api/v1/clinics/{clinic}/outbox``).

Messages carry credentials: a patient's manage link (``?token=cbl_…``: cancel, reschedule,
forms, review), the magic sign-in link, staff password links. Whoever holds one can act as
its recipient. Clinic admins read messages whole (without SMTP, the outbox is where a link
waits to be forwarded); receptionists and specialists see every patient and specialist
message with each link replaced by ``[link removed]`` and no attachment content (an ``.ics``
folds long lines, so its link cannot be found reliably by a pattern: nothing of it is sent).
Staff messages (password links, alerts) are listed for clinic admins only (the route's query).
"""

from __future__ import annotations

import json
import re
from typing import Any
from uuid import UUID

import asyncpg

from notifications.message_log import in_scope, staff_mail_if
from notifications.schemas import OutboxAttachment, OutboxMessage

LINK_REMOVED = "[link removed]"
# Any absolute http(s) URL, any path into a clinic ("/c/<slug>/…", should a base URL ever be
# relative), and any link token on its own: whatever a future message's link looks like, the
# URL around it goes. Stops at whitespace, quotes and angle brackets (the HTML attribute's end).
_LINK = re.compile(r"""(?:https?://|(?<![\w.-])/c/)[^\s"'<>]+|\bcbl_[A-Za-z0-9_-]+""", re.I)


_OUTBOX = f"""
SELECT o.id, o.channel, o.recipient, o.subject, o.body_text, o.body_html, o.attachments,
       o.created_at, l.template, l.language, l.appointment_id
FROM outbox_messages o JOIN notification_log l ON l.id = o.log_id
WHERE ($1::uuid IS NULL OR l.appointment_id = $1)
  AND {staff_mail_if("$3")}
  AND {in_scope("$4")}
ORDER BY o.created_at DESC, o.id LIMIT $2
"""


async def outbox_rows(
    conn: asyncpg.Connection,
    appointment_id: UUID | None,
    limit: int,
    *,
    with_staff_mail: bool,
    scope: UUID | None,
) -> list[asyncpg.Record]:
    """Outbox messages, newest first: one appointment's when given; staff mail (password
    links, alerts) only ``with_staff_mail``; only ``scope``'s appointments when given
    (``StaffPrincipal.appointment_scope``)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        _OUTBOX, appointment_id, limit, with_staff_mail, scope
    )
    return rows


def without_links(text: str) -> str:
    """``text`` with every link and link token replaced by ``[link removed]``."""
    return _LINK.sub(LINK_REMOVED, text)


def outbox_message(row: Any, *, whole: bool) -> OutboxMessage:
    """One outbox row as the API shows it: ``whole`` for clinic admins, else without links."""
    attachments = row["attachments"]
    if isinstance(attachments, str):
        attachments = json.loads(attachments)
    if whole:
        return OutboxMessage(
            id=row["id"], channel=row["channel"], recipient=row["recipient"],
            subject=row["subject"], body_text=row["body_text"], body_html=row["body_html"],
            attachments=[OutboxAttachment(**a) for a in attachments],
            template=row["template"], language=row["language"],
            appointment_id=row["appointment_id"], created_at=row["created_at"], redacted=False,
        )  # fmt: skip
    html = row["body_html"]
    return OutboxMessage(
        id=row["id"], channel=row["channel"], recipient=row["recipient"],
        subject=without_links(row["subject"]) if row["subject"] else row["subject"],
        body_text=without_links(row["body_text"]),
        body_html=without_links(html) if html is not None else None,
        attachments=[
            OutboxAttachment(filename=a["filename"], content_type=a["content_type"], content="")
            for a in attachments
        ],
        template=row["template"], language=row["language"],
        appointment_id=row["appointment_id"], created_at=row["created_at"], redacted=True,
    )  # fmt: skip
