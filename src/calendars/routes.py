"""HTTP routes of the calendars domain: staff availability/catalog API, public catalog, slots."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, MediaType, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from calendars import catalog, service, slots
from calendars.schemas import (
    CalendarIn,
    CalendarOut,
    CalendarPatch,
    Catalog,
    ClosureIn,
    ClosureOut,
    OverrideIn,
    OverrideOut,
    PublicCalendar,
    ServiceIn,
    ServiceOut,
    ServicePatch,
    SlotsOut,
    SpecialistIn,
    SpecialistOut,
    SpecialistPatch,
    WeeklyInterval,
)
from carebook.openapi import INVALID, RATE_LIMITED, problems
from carebook.ratelimit import limit
from carebook.tenancy import Tenant, tenant_tx
from carebook.zones import parse_local_date
from tenants.guards import PUBLIC, STAFF, StaffPrincipal

STAFF_PATH = "/api/v1/clinics/{clinic:str}"
PUBLIC_PATH = "/api/v1/clinics/{clinic:str}/public"


def json_bytes(document: bytes) -> Response[Any]:
    """A JSON document PostgreSQL already wrote, sent as it is (no decode, no encode)."""
    return Response(document, media_type=MediaType.JSON)


def clock(request: Request[Any, Any, Any]) -> datetime:
    """The current instant; tests may pin it with ``app.state.clock`` (a callable)."""
    pinned = getattr(request.app.state, "clock", None)
    return pinned() if callable(pinned) else datetime.now(UTC)


class SpecialistsController(Controller):
    path = f"{STAFF_PATH}/specialists"
    tags = ["availability"]
    dependencies = STAFF

    @get("/", summary="List specialists (staff)")
    async def index(
        self, staff_tenant: NamedDependency[Tenant], staff: NamedDependency[StaffPrincipal]
    ) -> list[SpecialistOut]:
        async with tenant_tx(staff_tenant) as conn:
            return await service.list_specialists(conn)

    @post("/", status_code=201, summary="Add a specialist (clinic admins)")
    async def create(
        self,
        staff_tenant: NamedDependency[Tenant],
        clinic_admin: NamedDependency[StaffPrincipal],
        data: JSONBody[SpecialistIn],
    ) -> SpecialistOut:
        async with tenant_tx(staff_tenant) as conn:
            return await service.create_specialist(conn, data)

    @get("/{specialist_id:uuid}", summary="One specialist (staff)")
    async def show(
        self,
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        specialist_id: FromPath[UUID],
    ) -> SpecialistOut:
        async with tenant_tx(staff_tenant) as conn:
            return await service.get_specialist(conn, specialist_id)

    @patch("/{specialist_id:uuid}", summary="Change a specialist (clinic admins)")
    async def update(
        self,
        staff_tenant: NamedDependency[Tenant],
        clinic_admin: NamedDependency[StaffPrincipal],
        specialist_id: FromPath[UUID],
        data: JSONBody[SpecialistPatch],
    ) -> SpecialistOut:
        async with tenant_tx(staff_tenant) as conn:
            return await service.update_specialist(conn, specialist_id, data)

    @delete("/{specialist_id:uuid}", status_code=204, summary="Delete a specialist (admins)")
    async def destroy(
        self,
        staff_tenant: NamedDependency[Tenant],
        clinic_admin: NamedDependency[StaffPrincipal],
        specialist_id: FromPath[UUID],
    ) -> None:
        async with tenant_tx(staff_tenant) as conn:
            await service.delete_specialist(conn, specialist_id)

    @get("/{specialist_id:uuid}/schedule", summary="Weekly schedule (staff)")
    async def schedule(
        self,
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        specialist_id: FromPath[UUID],
    ) -> list[WeeklyInterval]:
        async with tenant_tx(staff_tenant) as conn:
            return await service.weekly_schedule(conn, specialist_id)

    @put("/{specialist_id:uuid}/schedule",
         summary="Replace the weekly schedule atomically (own, or any as admin)")  # fmt: skip
    async def replace_schedule(
        self,
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        specialist_id: FromPath[UUID],
        data: JSONBody[list[WeeklyInterval]],
    ) -> list[WeeklyInterval]:
        async with tenant_tx(staff_tenant) as conn:
            await service.ensure_can_edit(conn, staff, specialist_id)
            return await service.replace_weekly_schedule(conn, specialist_id, data)

    @get("/{specialist_id:uuid}/overrides", summary="Date overrides (staff)")
    async def overrides(
        self,
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        specialist_id: FromPath[UUID],
        since: FromQuery[date | None] = None,
    ) -> list[OverrideOut]:
        async with tenant_tx(staff_tenant) as conn:
            return await service.list_overrides(conn, specialist_id, since)

    @post("/{specialist_id:uuid}/overrides", status_code=201,
          summary="Add a day off or custom hours (own, or any as admin)")  # fmt: skip
    async def add_override(
        self,
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        specialist_id: FromPath[UUID],
        data: JSONBody[OverrideIn],
    ) -> OverrideOut:
        async with tenant_tx(staff_tenant) as conn:
            await service.ensure_can_edit(conn, staff, specialist_id)
            return await service.create_override(conn, specialist_id, data)

    @delete("/{specialist_id:uuid}/overrides/{override_id:uuid}", status_code=204,
            summary="Remove an override (own, or any as admin)")  # fmt: skip
    async def remove_override(
        self,
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        specialist_id: FromPath[UUID],
        override_id: FromPath[UUID],
    ) -> None:
        async with tenant_tx(staff_tenant) as conn:
            await service.ensure_can_edit(conn, staff, specialist_id)
            await service.delete_override(conn, specialist_id, override_id)


class ClosuresController(Controller):
    path = f"{STAFF_PATH}/closures"
    tags = ["availability"]
    dependencies = STAFF

    @get("/", summary="Clinic closures (staff)")
    async def index(
        self,
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        since: FromQuery[date | None] = None,
    ) -> list[ClosureOut]:
        async with tenant_tx(staff_tenant) as conn:
            return await service.list_closures(conn, since)

    @post("/", status_code=201, summary="Close the clinic on dates (clinic admins)")
    async def create(
        self,
        staff_tenant: NamedDependency[Tenant],
        clinic_admin: NamedDependency[StaffPrincipal],
        data: JSONBody[ClosureIn],
    ) -> ClosureOut:
        async with tenant_tx(staff_tenant) as conn:
            return await service.create_closure(conn, data)

    @delete("/{closure_id:uuid}", status_code=204, summary="Remove a closure (clinic admins)")
    async def destroy(
        self,
        staff_tenant: NamedDependency[Tenant],
        clinic_admin: NamedDependency[StaffPrincipal],
        closure_id: FromPath[UUID],
    ) -> None:
        async with tenant_tx(staff_tenant) as conn:
            await service.delete_closure(conn, closure_id)


class ServicesController(Controller):
    path = f"{STAFF_PATH}/services"
    tags = ["catalog"]
    dependencies = STAFF

    @get("/", summary="List services (staff)")
    async def index(
        self, staff_tenant: NamedDependency[Tenant], staff: NamedDependency[StaffPrincipal]
    ) -> list[ServiceOut]:
        async with tenant_tx(staff_tenant) as conn:
            return await catalog.list_services(conn)

    @post("/", status_code=201, summary="Add a service (clinic admins)")
    async def create(
        self,
        staff_tenant: NamedDependency[Tenant],
        clinic_admin: NamedDependency[StaffPrincipal],
        data: JSONBody[ServiceIn],
    ) -> ServiceOut:
        async with tenant_tx(staff_tenant) as conn:
            return await catalog.create_service(conn, data)

    @get("/{service_id:uuid}", summary="One service (staff)")
    async def show(
        self,
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        service_id: FromPath[UUID],
    ) -> ServiceOut:
        async with tenant_tx(staff_tenant) as conn:
            return await catalog.get_service(conn, service_id)

    @patch("/{service_id:uuid}", summary="Change a service (clinic admins)")
    async def update(
        self,
        staff_tenant: NamedDependency[Tenant],
        clinic_admin: NamedDependency[StaffPrincipal],
        service_id: FromPath[UUID],
        data: JSONBody[ServicePatch],
    ) -> ServiceOut:
        async with tenant_tx(staff_tenant) as conn:
            return await catalog.update_service(conn, service_id, data)

    @delete("/{service_id:uuid}", status_code=204, summary="Delete a service (clinic admins)")
    async def destroy(
        self,
        staff_tenant: NamedDependency[Tenant],
        clinic_admin: NamedDependency[StaffPrincipal],
        service_id: FromPath[UUID],
    ) -> None:
        async with tenant_tx(staff_tenant) as conn:
            await catalog.delete_service(conn, service_id)


class CalendarsController(Controller):
    path = f"{STAFF_PATH}/calendars"
    tags = ["catalog"]
    dependencies = STAFF

    @get("/", summary="List booking calendars (staff)")
    async def index(
        self, staff_tenant: NamedDependency[Tenant], staff: NamedDependency[StaffPrincipal]
    ) -> list[CalendarOut]:
        async with tenant_tx(staff_tenant) as conn:
            return await catalog.list_calendars(conn)

    @post("/", status_code=201, summary="Add a booking calendar (clinic admins)")
    async def create(
        self,
        staff_tenant: NamedDependency[Tenant],
        clinic_admin: NamedDependency[StaffPrincipal],
        data: JSONBody[CalendarIn],
    ) -> CalendarOut:
        async with tenant_tx(staff_tenant) as conn:
            return await catalog.create_calendar(conn, data)

    @get("/{calendar_id:uuid}", summary="One booking calendar (staff)")
    async def show(
        self,
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        calendar_id: FromPath[UUID],
    ) -> CalendarOut:
        async with tenant_tx(staff_tenant) as conn:
            return await catalog.get_calendar(conn, calendar_id)

    @patch("/{calendar_id:uuid}", summary="Change a booking calendar (clinic admins)")
    async def update(
        self,
        staff_tenant: NamedDependency[Tenant],
        clinic_admin: NamedDependency[StaffPrincipal],
        calendar_id: FromPath[UUID],
        data: JSONBody[CalendarPatch],
    ) -> CalendarOut:
        async with tenant_tx(staff_tenant) as conn:
            return await catalog.update_calendar(conn, calendar_id, data)

    @delete("/{calendar_id:uuid}", status_code=204, summary="Delete a calendar (clinic admins)")
    async def destroy(
        self,
        staff_tenant: NamedDependency[Tenant],
        clinic_admin: NamedDependency[StaffPrincipal],
        calendar_id: FromPath[UUID],
    ) -> None:
        async with tenant_tx(staff_tenant) as conn:
            await catalog.delete_calendar(conn, calendar_id)


class PublicCatalogController(Controller):
    path = PUBLIC_PATH
    tags = ["public"]
    dependencies = PUBLIC

    @get(
        "/catalog",
        summary="Listed, active services and calendars with price and duration",
        responses=problems(s404="clinic_not_found", s429=RATE_LIMITED),
    )
    async def catalog(
        self, request: Request[Any, Any, Any], tenant: NamedDependency[Tenant]
    ) -> Response[Catalog]:
        await limit(request, tenant.slug, "read")
        return json_bytes(await catalog.public_catalog_document(tenant))

    @get(
        "/calendars/by-slug/{slug:str}",
        summary="One active calendar by slug (also unlisted)",
        responses=problems(s404="clinic_not_found, calendar_not_found", s429=RATE_LIMITED),
    )
    async def by_slug(
        self, request: Request[Any, Any, Any], tenant: NamedDependency[Tenant], slug: FromPath[str]
    ) -> PublicCalendar:
        await limit(request, tenant.slug, "read")
        async with tenant_tx(tenant) as conn:
            return await catalog.public_calendar_by_slug(conn, slug)

    @get(
        "/calendars/{calendar_id:uuid}/slots",
        summary="Bookable slots by local date (every date of the range is listed)",
        responses=problems(
            s404="clinic_not_found, calendar_not_found, specialist_not_found",
            s422="invalid_date, date_out_of_range, invalid_range, range_too_long, "
            f"invalid_timezone, {INVALID}",
            s429=RATE_LIMITED,
        ),
    )
    async def slots(
        self,
        request: Request[Any, Any, Any],
        tenant: NamedDependency[Tenant],
        calendar_id: FromPath[UUID],
        start: Annotated[str, QueryParameter(description="First local date, YYYY-MM-DD")],
        end: Annotated[
            str, QueryParameter(description="Last local date (inclusive), at most 62 days on")
        ],
        tz: Annotated[str | None, QueryParameter(description="IANA zone; default clinic's")] = None,
        specialist_id: FromQuery[UUID | None] = None,
    ) -> Response[SlotsOut]:
        await limit(request, tenant.slug, "read")
        first = parse_local_date(start, "start")
        last = parse_local_date(end, "end")
        document = await slots.slots_document(
            tenant, calendar_id, first, last, tz, specialist_id, clock(request)
        )
        return json_bytes(document)


route_handlers: list[Any] = [
    SpecialistsController,
    ClosuresController,
    ServicesController,
    CalendarsController,
    PublicCatalogController,
]
