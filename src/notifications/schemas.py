"""Wire shapes of the notifications domain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
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
    redacted: Annotated[
        bool,
        msgspec.Meta(
            description="True when the caller is not a clinic admin: every link in the subject "
            "and bodies is replaced by '[link removed]' and attachments have no content."
        ),
    ] = False


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


WebhookUrl = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
WebhookEvents = Annotated[
    list[Annotated[str, msgspec.Meta(max_length=64)]], msgspec.Meta(min_length=1, max_length=20)
]


class WebhookIn(msgspec.Struct, forbid_unknown_fields=True):
    url: WebhookUrl
    """http(s) to a public address, no credentials (else 422 ``webhook_url_not_allowed``)."""
    events: WebhookEvents


class WebhookPatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    url: WebhookUrl | None = None
    events: WebhookEvents | None = None
    active: bool | None = None


class WebhookOut(msgspec.Struct):
    id: UUID
    url: str
    events: list[str]
    active: bool
    created_at: datetime
    secret: str | None = None
    """Shown once, at creation: verify ``Carebook-Signature`` with it."""


class WebhookDelivery(msgspec.Struct):
    id: UUID
    event_id: UUID
    event_type: str
    status: str
    attempts: int
    response_status: int | None
    error: str | None
    created_at: datetime
    delivered_at: datetime | None
