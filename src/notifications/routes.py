"""Staff routes of the notifications domain: the local outbox and the message log."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from carebook.errors import NotFound, ValidationFailed
from carebook.jobs import outbox
from carebook.openapi import problems
from carebook.ratelimit import client_address
from carebook.tenancy import Tenant, tenant_tx
from notifications import message_log, outbox_view, webhook_urls, webhooks
from notifications.schemas import (
    LogEntry,
    OutboxMessage,
    WebhookDelivery,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
)
from tenants import audit
from tenants.guards import STAFF, StaffPrincipal

Limit = Annotated[int, QueryParameter(ge=1, le=500, description="At most this many, newest first.")]


class NotificationsController(Controller):
    path = "/api/v1/clinics/{clinic:str}"
    tags = ["notifications"]
    dependencies = STAFF

    @get(
        "/outbox",
        summary="The local outbox: messages kept here because no SMTP/SMS is configured",
        description="Clinic admins see messages whole. Other staff see patient and specialist "
        "messages with every link replaced by `[link removed]` and attachments without content "
        "(`redacted: true`): links act as their recipient. Staff password links and alerts are "
        "listed for clinic admins only. A specialist sees only the messages about their own "
        "appointments (another's `appointment_id` lists nothing, as an unknown one).",
        responses=problems(s401="invalid_token", s403="clinic_suspended", s404="clinic_not_found"),
    )
    async def outbox(
        self,
        request: Request[Any, Any, Any],
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        appointment_id: Annotated[UUID | None, QueryParameter(required=False)] = None,
        limit: Limit = 100,
    ) -> list[OutboxMessage]:
        async with tenant_tx(staff_tenant) as conn:
            rows = await outbox_view.outbox_rows(
                conn,
                appointment_id,
                limit,
                with_staff_mail=staff.is_admin,  # password links and alerts: clinic admins only
                scope=staff.appointment_scope,  # a specialist: their own appointments' messages
            )
        # Links are credentials: only clinic admins get them (notifications.outbox_view).
        whole = staff.is_admin
        what = "outbox" if whole else "outbox (links removed)"
        await _audit_view(request, staff_tenant, staff, what, appointment_id)
        return [outbox_view.outbox_message(r, whole=whole) for r in rows]

    @get(
        "/notifications",
        summary="The message log: every message with its status, attempts and error",
        description="Admins and receptionists see the whole clinic's log; a specialist only the "
        "messages about their own appointments (another's `appointment_id` lists nothing, as "
        "an unknown one). Messages to staff (invitations, password links, alerts) are listed "
        "for clinic admins only, as in the outbox.",
        responses=problems(s401="invalid_token", s403="clinic_suspended", s404="clinic_not_found"),
    )
    async def log(
        self,
        request: Request[Any, Any, Any],
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        appointment_id: Annotated[UUID | None, QueryParameter(required=False)] = None,
        limit: Limit = 100,
    ) -> list[LogEntry]:
        async with tenant_tx(staff_tenant) as conn:
            entries = await message_log.log_entries(
                conn,
                appointment_id,
                limit,
                staff.appointment_scope,  # a specialist: their own appointments' messages
                with_staff_mail=staff.is_admin,  # whom the clinic invited, reset: admins only
            )
        await _audit_view(request, staff_tenant, staff, "log", appointment_id)
        return entries


async def _audit_view(
    request: Request[Any, Any, Any],
    tenant: Tenant,
    staff: StaffPrincipal,
    what: str,
    appointment_id: UUID | None,
) -> None:
    """Messages name patients: the access audit (tenants.audit) records each read — the
    appointment's patient when filtered by appointment, else the clinic-wide list."""
    subject = "appointment" if appointment_id else "messages"
    await audit.record_view(
        tenant,
        staff,
        subject,
        subject_id=appointment_id,
        detail=f"api messages {what}",
        client_addr=client_address(request),
    )


class WebhooksController(Controller):
    path = "/api/v1/clinics/{clinic:str}/webhooks"
    tags = ["notifications"]
    dependencies = STAFF

    @get("/", summary="Webhook endpoints (clinic admins)")
    async def index(
        self, staff_tenant: NamedDependency[Tenant], clinic_admin: NamedDependency[StaffPrincipal]
    ) -> list[WebhookOut]:
        async with tenant_tx(staff_tenant) as conn:
            rows = await conn.fetch(
                "SELECT id, url, events, active, created_at FROM webhook_endpoints "
                "ORDER BY created_at"
            )
        return [WebhookOut(**dict(r)) for r in rows]

    @post(
        "/",
        status_code=201,
        summary="Add a webhook endpoint (clinic admins); the signing secret is shown once",
        description="Events: " + ", ".join(sorted(webhooks.SUBSCRIBABLE)) + ". Deliveries are "
        "POSTed as JSON with `Carebook-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "
        "'<t>.<body>')>` and `Carebook-Event-Id` (stable across retries).",
        responses=problems(
            s403="admin_only", s422="unknown_event, webhook_url_not_allowed, validation_failed"
        ),
    )
    async def create(
        self,
        staff_tenant: NamedDependency[Tenant],
        clinic_admin: NamedDependency[StaffPrincipal],
        data: JSONBody[WebhookIn],
    ) -> WebhookOut:
        events = _known_events(data.events)
        url = await webhook_urls.check_url(data.url)
        secret = webhooks.new_secret()
        async with tenant_tx(staff_tenant) as conn:
            row = await conn.fetchrow(
                "INSERT INTO webhook_endpoints (url, secret, events) VALUES ($1, $2, $3) "
                "RETURNING id, url, events, active, created_at",
                url,
                secret,
                events,
            )
        return WebhookOut(**dict(row), secret=secret)

    @patch(
        "/{webhook_id:uuid}",
        summary="Change a webhook endpoint's URL, events or active flag (clinic admins)",
        responses=problems(
            s403="admin_only",
            s404="webhook_not_found",
            s422="unknown_event, webhook_url_not_allowed, validation_failed",
        ),
    )
    async def update(
        self,
        staff_tenant: NamedDependency[Tenant],
        clinic_admin: NamedDependency[StaffPrincipal],
        webhook_id: FromPath[UUID],
        data: JSONBody[WebhookPatch],
    ) -> WebhookOut:
        events = None if data.events is None else _known_events(data.events)
        url = None if data.url is None else await webhook_urls.check_url(data.url)
        async with tenant_tx(staff_tenant) as conn:
            row = await conn.fetchrow(
                """UPDATE webhook_endpoints
                   SET url = coalesce($2, url), events = coalesce($3, events),
                       active = coalesce($4, active)
                   WHERE id = $1 RETURNING id, url, events, active, created_at""",
                webhook_id,
                url,
                events,
                data.active,
            )
        if row is None:
            raise NotFound("No such webhook endpoint.", code="webhook_not_found")
        return WebhookOut(**dict(row))

    @delete("/{webhook_id:uuid}", status_code=204, summary="Remove a webhook endpoint")
    async def remove(
        self,
        staff_tenant: NamedDependency[Tenant],
        clinic_admin: NamedDependency[StaffPrincipal],
        webhook_id: FromPath[UUID],
    ) -> None:
        async with tenant_tx(staff_tenant) as conn:
            if not await conn.fetchval(
                "DELETE FROM webhook_endpoints WHERE id = $1 RETURNING 1", webhook_id
            ):
                raise NotFound("No such webhook endpoint.", code="webhook_not_found")

    @post(
        "/{webhook_id:uuid}/test",
        status_code=202,
        summary="Send a test event (webhook.test) to this endpoint through the delivery queue",
    )
    async def send_test(
        self,
        staff_tenant: NamedDependency[Tenant],
        clinic_admin: NamedDependency[StaffPrincipal],
        webhook_id: FromPath[UUID],
    ) -> dict[str, str]:
        async with tenant_tx(staff_tenant) as conn:
            if not await conn.fetchval("SELECT 1 FROM webhook_endpoints WHERE id = $1", webhook_id):
                raise NotFound("No such webhook endpoint.", code="webhook_not_found")
            job_id = await outbox.enqueue(
                conn, webhooks.ACTOR, {"event": "test", "endpoint_id": str(webhook_id)}
            )
        return {"event_id": str(job_id)}

    @get("/{webhook_id:uuid}/deliveries", summary="The delivery log of one endpoint")
    async def deliveries(
        self,
        staff_tenant: NamedDependency[Tenant],
        clinic_admin: NamedDependency[StaffPrincipal],
        webhook_id: FromPath[UUID],
        limit: Limit = 100,
    ) -> list[WebhookDelivery]:
        async with tenant_tx(staff_tenant) as conn:
            rows = await conn.fetch(
                """SELECT id, event_id, event_type, status, attempts, response_status, error,
                          created_at, delivered_at
                   FROM webhook_deliveries WHERE endpoint_id = $1
                   ORDER BY created_at DESC, id LIMIT $2""",
                webhook_id,
                limit,
            )
        return [WebhookDelivery(**dict(r)) for r in rows]


def _known_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - webhooks.SUBSCRIBABLE)
    if unknown:
        raise ValidationFailed.field(
            "events", f"Unknown event types: {', '.join(unknown)}.", code="unknown_event"
        )
    return sorted(set(events))


def _pages() -> list[Any]:
    from notifications.pages import route_handlers as pages

    return pages


route_handlers: list[Any] = [NotificationsController, WebhooksController, *_pages()]
