"""Staff routes of the notifications domain: the local outbox and the message log."""

from __future__ import annotations

import json
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from carebook.openapi import problems
from carebook.tenancy import Tenant, tenant_tx
from notifications.schemas import LogEntry, OutboxAttachment, OutboxMessage
from tenants.guards import STAFF, StaffPrincipal

Limit = Annotated[int, QueryParameter(ge=1, le=500, description="At most this many, newest first.")]


class NotificationsController(Controller):
    path = "/api/v1/clinics/{clinic:str}"
    tags = ["notifications"]
    dependencies = STAFF

    @get(
        "/outbox",
        summary="The local outbox: messages kept here because no SMTP/SMS is configured",
        responses=problems(s401="invalid_token", s403="clinic_suspended", s404="clinic_not_found"),
    )
    async def outbox(
        self,
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        appointment_id: Annotated[UUID | None, QueryParameter(required=False)] = None,
        limit: Limit = 100,
    ) -> list[OutboxMessage]:
        async with tenant_tx(staff_tenant) as conn:
            rows = await conn.fetch(
                """SELECT o.id, o.channel, o.recipient, o.subject, o.body_text, o.body_html,
                          o.attachments, o.created_at, l.template, l.language, l.appointment_id
                   FROM outbox_messages o JOIN notification_log l ON l.id = o.log_id
                   WHERE $1::uuid IS NULL OR l.appointment_id = $1
                   ORDER BY o.created_at DESC, o.id LIMIT $2""",
                appointment_id,
                limit,
            )
        return [_outbox_out(r) for r in rows]

    @get(
        "/notifications",
        summary="The message log: every message with its status, attempts and error",
        responses=problems(s401="invalid_token", s403="clinic_suspended", s404="clinic_not_found"),
    )
    async def log(
        self,
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        appointment_id: Annotated[UUID | None, QueryParameter(required=False)] = None,
        limit: Limit = 100,
    ) -> list[LogEntry]:
        async with tenant_tx(staff_tenant) as conn:
            rows = await conn.fetch(
                """SELECT id, appointment_id, event, recipient, recipient_kind, channel,
                          transport, template, language, status, attempts, provider_id, error,
                          created_at, updated_at, sent_at
                   FROM notification_log
                   WHERE $1::uuid IS NULL OR appointment_id = $1
                   ORDER BY created_at DESC, id LIMIT $2""",
                appointment_id,
                limit,
            )
        return [LogEntry(**dict(r)) for r in rows]


def _outbox_out(r: Any) -> OutboxMessage:
    attachments = r["attachments"]
    if isinstance(attachments, str):
        attachments = json.loads(attachments)
    return OutboxMessage(
        id=r["id"], channel=r["channel"], recipient=r["recipient"], subject=r["subject"],
        body_text=r["body_text"], body_html=r["body_html"],
        attachments=[OutboxAttachment(**a) for a in attachments],
        template=r["template"], language=r["language"], appointment_id=r["appointment_id"],
        created_at=r["created_at"],
    )  # fmt: skip


def _pages() -> list[Any]:
    from notifications.pages import route_handlers as pages

    return pages


route_handlers: list[Any] = [NotificationsController, *_pages()]
