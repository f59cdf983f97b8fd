"""HTTP routes of the bookings domain: public holds and bookings, the staff day view."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import Example
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter

from bookings import holds, idempotency, listing, staff_booking
from bookings.booking import book
from bookings.lifecycle_routes import route_handlers as lifecycle_route_handlers
from bookings.schemas import BookingIn, BookingOut, DayOut, HoldIn, HoldOut, StaffBookingIn
from carebook.openapi import INVALID, MALFORMED, RATE_LIMITED, problems
from carebook.ratelimit import client_address, limit
from carebook.tenancy import Tenant
from carebook.urls import public_base_url
from notifications import preferences
from tenants import audit
from tenants.guards import PUBLIC, STAFF, StaffPrincipal

HOLD_TOKEN_HEADER = "X-Hold-Token"  # noqa: S105 - a header name


class PublicHoldsController(Controller):
    path = "/api/v1/clinics/{clinic:str}/public"
    tags = ["public booking"]
    dependencies = PUBLIC

    @post(
        "/holds",
        status_code=201,
        summary="Hold a slot for the clinic's hold minutes",
        description="Without `specialist_id` the free specialist with the fewest appointments "
        "that day is picked. 409 `slot_unavailable`: held or booked right now; 422 "
        "`invalid_slot`: not a slot of this calendar at all. A new hold with the same "
        "`session_key` releases that key's previous hold. Rate limited per client (429).",
        responses=problems(
            s400=MALFORMED,
            s404="calendar_not_found, specialist_not_found, clinic_not_found",
            s409="slot_unavailable, session_busy",
            s413="body_too_large",
            s422=f"invalid_slot, {INVALID}",
            s429=RATE_LIMITED,
        ),
    )
    async def hold(
        self,
        request: Request[Any, Any, Any],
        tenant: NamedDependency[Tenant],
        data: JSONBody[HoldIn],
    ) -> HoldOut:
        await limit(request, tenant.slug, "hold")
        held = await holds.hold_slot(
            tenant, data.calendar_id, data.start, data.specialist_id, data.session_key
        )
        zone = data.start.tzinfo
        return HoldOut(
            hold_id=held.id,
            token=held.token,
            expires_at=held.expires_at.astimezone(zone),
            specialist_id=held.specialist_id,
            start=held.start.astimezone(zone),
            end=held.end.astimezone(zone),
        )

    @delete(
        "/holds/{hold_id:uuid}",
        status_code=204,
        summary="Release a hold",
        responses=problems(
            s401="hold_token_required",
            s403="invalid_hold_token",
            s404="hold_not_found",
            s409="hold_already_booked",
            s429=RATE_LIMITED,
        ),
    )
    async def release(
        self,
        request: Request[Any, Any, Any],
        tenant: NamedDependency[Tenant],
        hold_id: FromPath[UUID],
        token: Annotated[
            str | None,
            HeaderParameter(
                name=HOLD_TOKEN_HEADER,
                required=False,
                description="The token returned when the hold was made.",
            ),
        ] = None,
    ) -> None:
        await limit(request, tenant.slug, "hold")
        await holds.release_hold(tenant, hold_id, token)

    @post(
        "/bookings",
        status_code=201,
        summary="Book a held slot (idempotent with Idempotency-Key)",
        description="Same `Idempotency-Key` and body → the same response; same key with "
        "another body → 422 `idempotency_key_reused`. An expired hold whose slot is still "
        "free is booked anyway; taken meanwhile → 409 `hold_expired`. Rate limited (429).",
        responses=problems(
            s400=f"idempotency_key_required, {MALFORMED}",
            s403="invalid_hold_token",
            s404="hold_not_found",
            s409="hold_expired, hold_released, hold_already_booked",
            s413="body_too_large",
            s422="idempotency_key_reused, invalid_idempotency_key, invalid_timezone, "
            f"invalid_value, {INVALID}",
            s429=RATE_LIMITED,
        ),
    )
    async def create_booking(
        self,
        request: Request[Any, Any, Any],
        tenant: NamedDependency[Tenant],
        data: JSONBody[BookingIn],
        idempotency_key: Annotated[
            str | None,
            HeaderParameter(
                name=idempotency.HEADER,
                required=False,
                description="Required: a random value per booking attempt (e.g. a UUID).",
                examples=[Example(value="5f0c2b8e-9a3d-4e0b-8f5e-1c2d3e4f5a6b")],
            ),
        ] = None,
    ) -> Response[BookingOut]:
        await limit(request, tenant.slug, "booking")
        key = idempotency.valid_key(idempotency_key)
        # The patient's language for the messages about this booking, recorded in the
        # booking's transaction (the confirmation job may run as soon as it commits).
        language = preferences.chosen_language(request)
        body = await book(tenant, key, data, public_base_url(request), language=language)
        return Response(body, status_code=201)  # type: ignore[arg-type]


class StaffAppointmentsController(Controller):
    path = "/api/v1/clinics/{clinic:str}/appointments"
    tags = ["staff"]
    dependencies = STAFF

    @get(
        "/",
        summary="One local day's appointments",
        description="Admins and receptionists see every specialist; staff with the specialist "
        "role see only the appointments of the specialist linked to their account (none if "
        "none is; another's `specialist_id` gives an empty day). `status` is a "
        "comma-separated list (default: booked and later, no holds).",
        responses=problems(
            s401="unauthorized, invalid_token",
            s404="specialist_not_found",
            s422=f"invalid_date, date_out_of_range, invalid_status, invalid_timezone, {INVALID}",
        ),
    )
    async def day(
        self,
        request: Request[Any, Any, Any],
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        date: Annotated[str | None, QueryParameter(description="YYYY-MM-DD; default today")] = None,
        specialist_id: FromQuery[UUID | None] = None,
        status: FromQuery[str | None] = None,
        tz: Annotated[str | None, QueryParameter(description="IANA zone; default clinic's")] = None,
    ) -> DayOut:
        day = await listing.day_appointments(staff_tenant, staff, date, specialist_id, status, tz)
        # Staff saw patients' names and contacts: one access-audit row (tenants.audit).
        await audit.record_view(staff_tenant, staff, "agenda", detail=f"api day {day.date}",
                                client_addr=client_address(request))  # fmt: skip
        return day

    @post(
        "/",
        status_code=201,
        summary="Book for a caller (a receptionist taking a phone call)",
        description="Holds and books the slot with the same rules and guarantees as the public "
        "path; the history records the staff member. Specialists book only themselves: "
        "another specialist's `specialist_id` is 404 `specialist_not_found`, as a missing one "
        "(403 `no_specialist_linked` for a specialist account linked to no specialist). "
        "`Idempotency-Key` is required, as on the public path: a retry with the same key books "
        "nothing more (409 `already_booked`).",
        responses=problems(
            s400=f"idempotency_key_required, {MALFORMED}",
            s401="unauthorized, invalid_token",
            s403="no_specialist_linked, csrf_failed",
            s404="calendar_not_found, specialist_not_found (also another specialist's, for a "
            "specialist)",
            s409="slot_unavailable, already_booked",
            s422=f"invalid_slot, invalid_timezone, {INVALID}",
        ),
    )
    async def book_for_caller(
        self,
        request: Request[Any, Any, Any],
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        data: JSONBody[StaffBookingIn],
        idempotency_key: Annotated[
            str | None, HeaderParameter(name=idempotency.HEADER, required=False)
        ] = None,
    ) -> Response[BookingOut]:
        body = await staff_booking.book_for_caller(
            staff_tenant, staff, data, idempotency_key, public_base_url(request)
        )
        return Response(body, status_code=201)  # type: ignore[arg-type]


route_handlers: list[Any] = [PublicHoldsController, StaffAppointmentsController,
                             *lifecycle_route_handlers]  # fmt: skip
