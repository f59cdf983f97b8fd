"""HTTP routes of the lifecycle: staff actions on an appointment, patients' manage-link actions."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter

from bookings import lifecycle, patient_actions
from bookings.appointments import appointment_detail
from bookings.lifecycle import Actor
from bookings.schemas import (
    AppointmentDetail,
    PatientCancelIn,
    PatientRescheduleIn,
    RescheduleIn,
    TransitionIn,
)
from carebook.openapi import INVALID, MALFORMED, RATE_LIMITED, problems
from carebook.ratelimit import client_address, limit
from carebook.tenancy import Tenant
from tenants import audit
from tenants.guards import PUBLIC, STAFF, StaffPrincipal

MANAGE_TOKEN_HEADER = "X-Manage-Token"  # noqa: S105 - a header name
_ACTION_PROBLEMS = dict(
    s400=MALFORMED,
    s401="unauthorized, invalid_token",
    s403="csrf_failed",
    s404="appointment_not_found (also another specialist's appointment, for a specialist)",
    s409="version_conflict, invalid_transition (with `allowed`), too_early, "
    "intake_forms_missing (with `missing`)",
    s422=f"invalid_action, reason_required, {INVALID}",
)


class StaffAppointmentController(Controller):
    path = "/api/v1/clinics/{clinic:str}/appointments/{appointment_id:uuid}"
    tags = ["staff"]
    dependencies = STAFF

    @get(
        "/",
        summary="One appointment with its patient, history and the actions open to you",
        description="A specialist sees only the appointments of the specialist linked to their "
        "account; another's is 404 `appointment_not_found`, as a missing one.",
        responses=problems(s401="unauthorized, invalid_token", s404="appointment_not_found",
                           s422="invalid_timezone"),
    )  # fmt: skip
    async def show(
        self,
        request: Request[Any, Any, Any],
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        appointment_id: FromPath[UUID],
        tz: Annotated[str | None, QueryParameter(description="IANA zone; default clinic's")] = None,
    ) -> AppointmentDetail:
        detail = await appointment_detail(staff_tenant, staff, appointment_id, tz)
        # Staff saw a patient's data: the access audit (tenants.audit) records it.
        await audit.record_view(staff_tenant, staff, "appointment", subject_id=appointment_id,
                                patient_id=detail.patient.id if detail.patient else None,
                                detail="api", client_addr=client_address(request))  # fmt: skip
        return detail

    @post(
        "/transitions",
        status_code=200,
        summary="Move the appointment on: confirm, start, complete, cancel (with reason), no_show",
        description="`version` must be the appointment's current version (409 "
        "`version_conflict` otherwise: two staff acting at once, exactly one wins). Any other "
        "transition is a 409 `invalid_transition` whose `allowed` lists the possible actions. "
        "A specialist acts only on their own appointments: another's is 404 "
        "`appointment_not_found`, as a missing one.",
        responses=problems(**_ACTION_PROBLEMS),
    )
    async def transition(
        self,
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        appointment_id: FromPath[UUID],
        data: JSONBody[TransitionIn],
    ) -> AppointmentDetail:
        await lifecycle.transition(staff_tenant, appointment_id, data.action, data.version,
                                   Actor.for_staff(staff), data.reason)  # fmt: skip
        return await appointment_detail(staff_tenant, staff, appointment_id)

    @post(
        "/reschedule",
        status_code=200,
        summary="Move the appointment to another slot of its calendar, atomically",
        description="The new slot is taken and the old one freed in one transaction, or "
        "nothing changes (409 `slot_unavailable` when it is gone). The appointment keeps its "
        "id, history, forms and manage link, and returns to `booked`. A specialist moves "
        "only their own appointments: another's is 404 `appointment_not_found`, as a missing "
        "one.",
        responses=problems(**{**_ACTION_PROBLEMS,
                              "s409": "version_conflict, invalid_transition, slot_unavailable",
                              "s422": f"invalid_slot, {INVALID}"}),
    )  # fmt: skip
    async def reschedule(
        self,
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        appointment_id: FromPath[UUID],
        data: JSONBody[RescheduleIn],
    ) -> AppointmentDetail:
        actor = Actor.for_staff(staff)
        await lifecycle.reschedule(staff_tenant, appointment_id, data.version, data.start,
                                   data.specialist_id, actor, data.reason)  # fmt: skip
        return await appointment_detail(staff_tenant, staff, appointment_id)


ManageToken = Annotated[
    str | None,
    HeaderParameter(name=MANAGE_TOKEN_HEADER, required=False,
                    description="The token of the appointment's manage link."),
]  # fmt: skip


class PublicManageController(Controller):
    path = "/api/v1/clinics/{clinic:str}/public/appointments/{appointment_id:uuid}"
    tags = ["public booking"]
    dependencies = PUBLIC

    @post(
        "/cancel",
        status_code=200,
        summary="Cancel with the manage link (until the clinic's cancellation cutoff)",
        responses=problems(s400=MALFORMED, s404="appointment_not_found",
                           s409="version_conflict, invalid_transition, cancellation_cutoff_passed",
                           s422=f"reason_required, {INVALID}", s429=RATE_LIMITED),
    )  # fmt: skip
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        tenant: NamedDependency[Tenant],
        appointment_id: FromPath[UUID],
        data: JSONBody[PatientCancelIn],
        token: ManageToken = None,
    ) -> dict[str, Any]:
        await limit(request, tenant.slug, "booking")
        changed = await patient_actions.cancel(tenant, appointment_id, token, data.version,
                                               data.reason)  # fmt: skip
        return {"appointment_id": changed.id, "status": changed.status, "version": changed.version}

    @post(
        "/reschedule",
        status_code=200,
        summary="Move to another slot with the manage link (until the cancellation cutoff)",
        responses=problems(s400=MALFORMED, s404="appointment_not_found",
                           s409="version_conflict, invalid_transition, slot_unavailable, "
                           "cancellation_cutoff_passed",
                           s422=f"invalid_slot, {INVALID}", s429=RATE_LIMITED),
    )  # fmt: skip
    async def reschedule(
        self,
        request: Request[Any, Any, Any],
        tenant: NamedDependency[Tenant],
        appointment_id: FromPath[UUID],
        data: JSONBody[PatientRescheduleIn],
        token: ManageToken = None,
    ) -> dict[str, Any]:
        await limit(request, tenant.slug, "hold")
        changed = await patient_actions.reschedule(tenant, appointment_id, token, data.version,
                                                   data.start, data.specialist_id)  # fmt: skip
        return {"appointment_id": changed.id, "status": changed.status, "version": changed.version}


route_handlers: list[Any] = [StaffAppointmentController, PublicManageController]
