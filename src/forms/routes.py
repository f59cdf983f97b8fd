"""HTTP routes of the forms domain: templates (staff), answers (patient and staff)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody

from calendars.routes import PUBLIC_PATH, STAFF_PATH, clock
from carebook.errors import ValidationFailed
from carebook.openapi import INVALID, RATE_LIMITED, problems
from carebook.ratelimit import client_address, limit
from carebook.tenancy import Tenant, tenant_tx
from forms import instances, service
from forms.instances import Filler
from forms.schemas import (
    AnswerIn,
    AnswersIn,
    InstanceOut,
    Phase,
    TemplateEdit,
    TemplateIn,
    TemplateOut,
)
from tenants import audit
from tenants.guards import PUBLIC, STAFF, StaffPrincipal

ManageToken = Annotated[
    str | None,
    HeaderParameter(name="X-Manage-Token", required=False, description="The manage link token"),
]


def _raise_field_errors(errors: list[dict[str, str]]) -> None:
    if errors:
        raise ValidationFailed(
            "Some answers are not valid; the others were saved.",
            code="invalid_answers",
            errors=errors,
        )


class FormTemplatesController(Controller):
    path = f"{STAFF_PATH}/forms"
    tags = ["forms"]
    dependencies = STAFF

    @get("/", summary="Form templates (staff)")
    async def index(
        self,
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        phase: FromQuery[Phase | None] = None,
        archived: FromQuery[bool] = False,
    ) -> list[TemplateOut]:
        async with tenant_tx(staff_tenant) as conn:
            return await service.list_templates(conn, phase, archived)

    @post("/", status_code=201, summary="Add a form template (clinic admins)",
          responses=problems(s422=f"invalid_fields, {INVALID}"))  # fmt: skip
    async def create(
        self,
        staff_tenant: NamedDependency[Tenant],
        clinic_admin: NamedDependency[StaffPrincipal],
        data: JSONBody[TemplateIn],
    ) -> TemplateOut:
        async with tenant_tx(staff_tenant) as conn:
            return await service.create_template(conn, data, clinic_admin.id)

    @get("/{form_id:uuid}", summary="A form template: current version, or ?version=")
    async def show(
        self,
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        form_id: FromPath[UUID],
        version: FromQuery[int | None] = None,
    ) -> TemplateOut:
        async with tenant_tx(staff_tenant) as conn:
            return await service.get_template(conn, form_id, version)

    @put("/{form_id:uuid}", summary="Edit a form template: a new version (clinic admins)",
         responses=problems(s404="form_not_found", s409="form_archived",
                            s422=f"invalid_fields, {INVALID}"))  # fmt: skip
    async def edit(
        self,
        staff_tenant: NamedDependency[Tenant],
        clinic_admin: NamedDependency[StaffPrincipal],
        form_id: FromPath[UUID],
        data: JSONBody[TemplateEdit],
    ) -> TemplateOut:
        async with tenant_tx(staff_tenant) as conn:
            return await service.edit_template(conn, form_id, data, clinic_admin.id)

    @delete("/{form_id:uuid}", status_code=204, summary="Archive a form template (admins)",
            responses=problems(s404="form_not_found", s409="form_in_use"))  # fmt: skip
    async def archive(
        self,
        staff_tenant: NamedDependency[Tenant],
        clinic_admin: NamedDependency[StaffPrincipal],
        form_id: FromPath[UUID],
    ) -> None:
        async with tenant_tx(staff_tenant) as conn:
            await service.archive_template(conn, form_id)


async def _audit_view(
    request: Request[Any, Any, Any], tenant: Tenant, staff: StaffPrincipal, appointment_id: UUID
) -> None:
    """Staff read a patient's form answers: the access audit (tenants.audit) records it."""
    await audit.record_view(tenant, staff, "appointment", subject_id=appointment_id,
                            detail="api forms", client_addr=client_address(request))  # fmt: skip


_SCOPE = (
    "Admins and receptionists see every appointment's forms; a specialist only those of "
    "their own appointments: another's is 404 `appointment_not_found`, as a missing one."
)


class StaffAppointmentFormsController(Controller):
    """Staff read every form of an appointment and fill its post-appointment forms."""

    path = f"{STAFF_PATH}/appointments/{{appointment_id:uuid}}/forms"
    tags = ["forms"]
    dependencies = STAFF

    @get(
        "/",
        summary="The forms of an appointment with their answers",
        description=_SCOPE,
        responses=problems(s404="appointment_not_found"),
    )
    async def index(
        self,
        request: Request[Any, Any, Any],
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        appointment_id: FromPath[UUID],
    ) -> list[InstanceOut]:
        async with tenant_tx(staff_tenant) as conn:
            await instances.staff_may_see(conn, staff, appointment_id)
            found = await instances.list_instances(conn, appointment_id)
        await _audit_view(request, staff_tenant, staff, appointment_id)
        return found

    @get(
        "/{instance_id:uuid}",
        summary="One form of an appointment",
        description=_SCOPE,
        responses=problems(s404="appointment_not_found, form_not_found"),
    )
    async def show(
        self,
        request: Request[Any, Any, Any],
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        appointment_id: FromPath[UUID],
        instance_id: FromPath[UUID],
    ) -> InstanceOut:
        async with tenant_tx(staff_tenant) as conn:
            await instances.staff_may_see(conn, staff, appointment_id)
            found = await instances.get_instance(conn, appointment_id, instance_id)
        await _audit_view(request, staff_tenant, staff, appointment_id)
        return found

    @put("/{instance_id:uuid}/answers", summary="Save answers of a post-appointment form",
         responses=problems(s403="not_your_form", s404="form_not_found",
                            s409="form_already_submitted, form_closed",
                            s422="invalid_answers"))  # fmt: skip
    async def answer(
        self,
        request: Request[Any, Any, Any],
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        appointment_id: FromPath[UUID],
        instance_id: FromPath[UUID],
        data: JSONBody[AnswersIn],
    ) -> InstanceOut:
        async with tenant_tx(staff_tenant) as conn:
            await instances.staff_may_see(conn, staff, appointment_id)
            out, errors = await instances.save_answers(
                conn, appointment_id, instance_id, data.answers, Filler("staff", staff.id),
                clock(request),
            )  # fmt: skip
        _raise_field_errors(errors)
        return out

    @post("/{instance_id:uuid}/submit", status_code=200,
          summary="Complete a post-appointment form (the patient may then read it)",
          responses=problems(s409="form_already_submitted, form_closed",
                             s422="form_incomplete"))  # fmt: skip
    async def submit(
        self,
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        appointment_id: FromPath[UUID],
        instance_id: FromPath[UUID],
    ) -> InstanceOut:
        async with tenant_tx(staff_tenant) as conn:
            await instances.staff_may_see(conn, staff, appointment_id)
            return await instances.submit(
                conn, appointment_id, instance_id, Filler("staff", staff.id)
            )


class PatientFormsController(Controller):
    """The patient's forms, authorised by the manage token in ``X-Manage-Token``."""

    path = f"{PUBLIC_PATH}/appointments/{{appointment_id:uuid}}/forms"
    tags = ["forms"]
    dependencies = PUBLIC

    @get("/", summary="My forms for this appointment",
         responses=problems(s404="appointment_not_found", s429=RATE_LIMITED))  # fmt: skip
    async def index(
        self,
        request: Request[Any, Any, Any],
        tenant: NamedDependency[Tenant],
        appointment_id: FromPath[UUID],
        token: ManageToken,
    ) -> list[InstanceOut]:
        await limit(request, tenant.slug, "read")
        async with tenant_tx(tenant) as conn:
            await instances.patient_may_read(conn, tenant, appointment_id, token)
            found = await instances.list_instances(conn, appointment_id)
        return [i for i in found if instances.patient_visible(i)]

    @put("/{instance_id:uuid}/answers/{key:str}", summary="Save one answer (validated)",
         responses=problems(s404="form_not_found", s409="form_already_submitted, form_closed",
                            s422="invalid_answers", s429=RATE_LIMITED))  # fmt: skip
    async def answer_one(
        self,
        request: Request[Any, Any, Any],
        tenant: NamedDependency[Tenant],
        appointment_id: FromPath[UUID],
        instance_id: FromPath[UUID],
        key: FromPath[str],
        data: JSONBody[AnswerIn],
        token: ManageToken,
    ) -> InstanceOut:
        return await self._save(request, tenant, appointment_id, instance_id, {key: data.value},
                                token)  # fmt: skip

    @put("/{instance_id:uuid}/answers", summary="Save several answers (each validated)",
         responses=problems(s404="form_not_found", s409="form_already_submitted, form_closed",
                            s422="invalid_answers", s429=RATE_LIMITED))  # fmt: skip
    async def answer_many(
        self,
        request: Request[Any, Any, Any],
        tenant: NamedDependency[Tenant],
        appointment_id: FromPath[UUID],
        instance_id: FromPath[UUID],
        data: JSONBody[AnswersIn],
        token: ManageToken,
    ) -> InstanceOut:
        return await self._save(request, tenant, appointment_id, instance_id, data.answers, token)

    async def _save(
        self,
        request: Request[Any, Any, Any],
        tenant: Tenant,
        appointment_id: UUID,
        instance_id: UUID,
        answers: dict[str, Any],
        token: str | None,
    ) -> InstanceOut:
        await limit(request, tenant.slug, "read")  # autosave: one request per field
        async with tenant_tx(tenant) as conn:
            await instances.patient_may_read(conn, tenant, appointment_id, token)
            out, errors = await instances.save_answers(
                conn, appointment_id, instance_id, answers, Filler("patient"), clock(request)
            )
        _raise_field_errors(errors)
        return out

    @post("/{instance_id:uuid}/submit", status_code=200, summary="Submit an intake form",
          responses=problems(s404="form_not_found", s409="form_already_submitted, form_closed",
                             s422="form_incomplete", s429=RATE_LIMITED))  # fmt: skip
    async def submit(
        self,
        request: Request[Any, Any, Any],
        tenant: NamedDependency[Tenant],
        appointment_id: FromPath[UUID],
        instance_id: FromPath[UUID],
        token: ManageToken,
    ) -> InstanceOut:
        await limit(request, tenant.slug, "booking")
        async with tenant_tx(tenant) as conn:
            await instances.patient_may_read(conn, tenant, appointment_id, token)
            return await instances.submit(conn, appointment_id, instance_id, Filler("patient"))


route_handlers: list[Any] = [
    FormTemplatesController,
    StaffAppointmentFormsController,
    PatientFormsController,
]
