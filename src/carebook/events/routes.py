"""SSE route for live updates, and the hub's health (scheduling spec §7)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream

from carebook.errors import CarebookError, NotFound
from carebook.events.hub import HubClosed, get_hub
from carebook.events.replay import parse_last_event_id
from carebook.events.stream import EventPump, EventStream
from carebook.openapi import RATE_LIMITED, problems
from carebook.ratelimit import limit
from carebook.tenancy import Tenant, tenant_tx
from tenants.guards import PUBLIC, STAFF, StaffPrincipal

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class LiveUpdatesUnavailable(CarebookError):
    status, code, title = 503, "live_updates_unavailable", "Live updates unavailable"


class LiveUpdatesController(Controller):
    path = "/api/v1/clinics/{clinic:str}/public/calendars"
    tags = ["public booking"]
    dependencies = PUBLIC

    @get(
        "/{calendar_id:uuid}/events",
        summary="Live updates of a calendar's slots (Server-Sent Events)",
        description=(
            "A `text/event-stream` of `slot.held`, `slot.booked`, `slot.released`, "
            "`availability.changed` and `resync` events about this calendar's specialists. "
            "Every event has an `id:`; reconnect with `Last-Event-ID` (or `?last_event_id=`) "
            "to get the missed ones in order, or `resync` when they are no longer retained. "
            "A `: ping` comment comes at least every 15 s."
        ),
        media_type="text/event-stream",
        responses=problems(
            s404="clinic_not_found, calendar_not_found",
            s429=RATE_LIMITED,
            s503="live_updates_unavailable (with Retry-After)",
        ),
    )
    async def events(
        self,
        request: Request[Any, Any, Any],
        tenant: NamedDependency[Tenant],
        calendar_id: FromPath[UUID],
        last_event_id: Annotated[str | None, QueryParameter(required=False)] = None,
    ) -> Stream:
        await limit(request, tenant.slug, "stream")
        try:
            hub = get_hub()
        except HubClosed:
            hub = None
        if hub is None or hub.closing:
            raise LiveUpdatesUnavailable(
                "This server is restarting; reconnect shortly.", headers={"Retry-After": "2"}
            )
        async with tenant_tx(tenant) as conn:
            if not await conn.fetchval("SELECT 1 FROM calendars WHERE id = $1", calendar_id):
                raise NotFound("There is no such calendar.", code="calendar_not_found")
        # The browser's reconnect header wins over the id the page was first opened with.
        raw = request.headers.get("last-event-id") or last_event_id
        return EventStream(
            EventPump(hub, tenant.schema, calendar_id, parse_last_event_id(raw), False),
            headers=SSE_HEADERS,
        )


class StaffLiveUpdatesController(Controller):
    path = "/api/v1/clinics/{clinic:str}/staff"
    tags = ["staff"]
    dependencies = STAFF

    @get(
        "/events",
        summary="Live updates of the whole clinic for staff pages (Server-Sent Events)",
        description=(
            "Every event of the clinic (`slot.*`, `availability.changed`, and the lifecycle's "
            "staff-only `appointment.changed`), with ids, replay and pings as the public "
            "calendar stream. Events carry no patient data: a page refetches what it shows."
        ),
        media_type="text/event-stream",
        responses=problems(s429=RATE_LIMITED, s503="live_updates_unavailable (with Retry-After)"),
    )
    async def events(
        self,
        request: Request[Any, Any, Any],
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        last_event_id: Annotated[str | None, QueryParameter(required=False)] = None,
    ) -> Stream:
        await limit(request, staff_tenant.slug, "stream")
        try:
            hub = get_hub()
        except HubClosed:
            hub = None
        if hub is None or hub.closing:
            raise LiveUpdatesUnavailable(
                "This server is restarting; reconnect shortly.", headers={"Retry-After": "2"}
            )
        raw = request.headers.get("last-event-id") or last_event_id
        return EventStream(
            EventPump(hub, staff_tenant.schema, WHOLE_CLINIC, parse_last_event_id(raw), True),
            headers=SSE_HEADERS,
        )


# Staff streams subscribe to no calendar in particular: they want every event.
WHOLE_CLINIC = UUID(int=0)


@get("/health/live", tags=["platform"], summary="Live-updates hub of this process")
async def live_health() -> dict[str, Any]:
    """Whether this process listens for events, and how many streams it serves."""
    try:
        return get_hub().stats()
    except HubClosed:
        return {"listening": False, "subscribers": 0, "clinics": 0, "reconnects": 0}


route_handlers: list[Any] = [LiveUpdatesController, StaffLiveUpdatesController, live_health]
