"""Wire shapes of the notifications domain."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec


class OutboxAttachment(msgspec.Struct):
    filename: str
    content_type: str
    content: str


class OutboxMessage(msgspec.Struct):
    id: UUID
    channel: str
    recipient: str
    subject: str | None
    body_text: str
    body_html: str | None
    attachments: list[OutboxAttachment]
    template: str
    language: str
    appointment_id: UUID | None
    created_at: datetime


class LogEntry(msgspec.Struct):
    id: UUID
    appointment_id: UUID | None
    event: str
    recipient: str
    recipient_kind: str
    channel: str
    transport: str
    template: str
    language: str
    status: str
    attempts: int
    provider_id: str | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
