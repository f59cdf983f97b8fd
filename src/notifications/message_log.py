"""Reading the message log: what the clinic sent, to whom, and how it went.

Every function takes a tenant connection. Rows never hold message bodies (those stay in the
local outbox when no provider is configured); ``subject`` is the outbox copy's, if any.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from notifications.schemas import LogEntry


def in_scope(param: str) -> str:
    """SQL condition on a log row ``l``: the parameter ``param`` (the caller's
    ``StaffPrincipal.appointment_scope``) is NULL for the whole clinic, else only messages
    about appointments of the specialist linked to that staff user pass (so none without an
    appointment: sign-in links, staff mail)."""
    return f"""({param}::uuid IS NULL OR EXISTS (
      SELECT 1 FROM appointments a JOIN specialists s ON s.id = a.specialist_id
      WHERE a.id = l.appointment_id AND s.staff_user = {param}))"""


def staff_mail_if(param: str) -> str:
    """SQL condition on a log row ``l``: messages to staff (password links, invitations,
    alerts: ``recipient_kind = 'staff'``) pass only when the boolean ``param`` is true — the
    caller is a clinic admin; the outbox and the message log answer alike."""
    return f"(l.recipient_kind <> 'staff' OR {param})"


_LOG = f"""
SELECT l.id, l.appointment_id, l.event, l.recipient, l.recipient_kind, l.channel, l.transport,
       l.template, l.language, l.status, l.attempts, l.provider_id, l.error, l.created_at,
       l.updated_at, l.sent_at
FROM notification_log l
WHERE ($1::uuid IS NULL OR l.appointment_id = $1)
  AND {in_scope("$3")}
  AND {staff_mail_if("$4")}
ORDER BY l.created_at DESC, l.id LIMIT $2
"""
# A patient's messages: those about their appointments addressed to them (not the copies
# sent to the specialist or the clinic). Goes by appointments(patient_id), then the log's
# appointment index.
_PATIENT = """
SELECT l.id, l.appointment_id, a.starts_at AS appointment_starts_at, l.event, l.channel,
       l.recipient, l.template, l.status, l.attempts, l.created_at, l.sent_at,
       (SELECT o.subject FROM outbox_messages o WHERE o.log_id = l.id
        ORDER BY o.created_at LIMIT 1) AS subject
FROM appointments a
JOIN notification_log l ON l.appointment_id = a.id AND l.recipient_kind = 'patient'
WHERE a.patient_id = $1
ORDER BY l.created_at DESC, l.id LIMIT $2
"""


@dataclass(frozen=True)
class PatientMessage:
    id: UUID
    appointment_id: UUID
    appointment_starts_at: datetime
    event: str
    channel: str
    recipient: str
    template: str
    status: str  # queued | sent | failed | bounced
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    subject: str | None


async def log_entries(
    conn: asyncpg.Connection,
    appointment_id: UUID | None = None,
    limit: int = 100,
    scope: UUID | None = None,
    *,
    with_staff_mail: bool,
) -> list[LogEntry]:
    """The message log, newest first; only one appointment's when given; only the messages of
    ``scope``'s appointments when given (``StaffPrincipal.appointment_scope``); messages to
    staff (recipient, template: whom the clinic invited or reset) only ``with_staff_mail``
    (clinic admins, as in the outbox)."""
    rows = await conn.fetch(_LOG, appointment_id, limit, scope, with_staff_mail)
    return [LogEntry(**dict(r)) for r in rows]


async def patient_messages(
    conn: asyncpg.Connection, patient_id: UUID, limit: int = 100
) -> list[PatientMessage]:
    """Messages sent to a patient about their appointments, newest first."""
    rows = await conn.fetch(_PATIENT, patient_id, limit)
    return [PatientMessage(**dict(r)) for r in rows]
