"""The patient's forms on the manage link: fill an intake form, read and print completed ones.

Plain HTML forms that work without JavaScript (the server validates every field and shows
each wrong one with its own message); ``forms/autosave.js`` also saves each field as soon as
it changes, through the same validation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.datastructures import FormMultiDict, ResponseHeader
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from carebook.errors import CarebookError, NotFound, ValidationFailed
from carebook.tenancy import Tenant, tenant_tx
from forms import instances
from forms.instances import Filler
from forms.schemas import FieldSpec, InstanceOut
from tenants.guards import provide_public_tenant
from web import reads
from web.display import answer_text, date_text, time_range_text, zone_or
from web.errors import HTML_EXCEPTION_HANDLERS, PAGE_HEADERS
from web.routes import PRIVATE_HEADERS, manage_path

TYPE_HINTS = {
    "number": "A number",
    "date": "A date",
    "multiple_choice": "Choose all that apply",
}


def form_path(tenant: Tenant, appointment_id: Any, instance_id: Any, token: str) -> str:
    base = manage_path(tenant, appointment_id, token)
    path, _, query = base.partition("?")
    return f"{path}/forms/{instance_id}?{query}"


def print_path(tenant: Tenant, appointment_id: Any, instance_id: Any, token: str) -> str:
    path, _, query = form_path(tenant, appointment_id, instance_id, token).partition("?")
    return f"{path}/print?{query}"


def _raw_answers(fields: list[FieldSpec], form: FormMultiDict) -> dict[str, Any]:
    """What an HTML form sent, per field, in the shapes ``forms.fields`` accepts."""
    raw: dict[str, Any] = {}
    for f in fields:
        if f.type == "multiple_choice":
            raw[f.key] = form.getall(f.key, [])
        elif f.type == "consent":
            raw[f.key] = {
                "agreed": form.get(f"{f.key}__agreed"),
                "name": form.get(f"{f.key}__name"),
            }
        else:
            raw[f.key] = form.get(f.key)
    return raw


async def _load(
    tenant: Tenant, appointment_id: str, instance_id: str, token: str | None
) -> tuple[reads.PatientAppointment, InstanceOut]:
    appt = await reads.appointment_for_patient(tenant, appointment_id, token)
    try:
        key = UUID(instance_id)
    except ValueError:
        raise NotFound("No such form.", code="form_not_found") from None
    async with tenant_tx(tenant) as conn:
        instance = await instances.get_instance(conn, appt.id, key)
    if not instances.patient_visible(instance):
        raise NotFound("No such form.", code="form_not_found")
    return appt, instance


def _context(
    tenant: Tenant,
    appt: reads.PatientAppointment,
    instance: InstanceOut,
    token: str,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    saved: bool = False,
) -> dict[str, Any]:
    zone = zone_or(appt.patient_timezone, tenant.timezone)
    editable = (
        instance.phase == "intake"
        and instance.status == "pending"
        and appt.status in instances.PATIENT_EDITABLE
    )
    return {
        "tenant": tenant,
        "appt": appt,
        "form": instance,
        "page_title": f"{instance.name} – {tenant.name}",
        "when": f"{date_text(appt.starts_at, zone)}, "
        f"{time_range_text(appt.starts_at, appt.ends_at, zone)}",
        "editable": editable,
        "values": values if values is not None else instance.answers,
        "errors": errors or {},
        "saved": saved,
        "display": {f.key: answer_text(f, instance.answers.get(f.key)) for f in instance.fields},
        "type_hints": TYPE_HINTS,
        "manage_url": manage_path(tenant, appt.id, token),
        "action_url": form_path(tenant, appt.id, instance.id, token),
        "print_url": print_path(tenant, appt.id, instance.id, token),
        "api_url": f"/api/v1/clinics/{tenant.slug}/public/appointments/{appt.id}"
        f"/forms/{instance.id}/answers",
        "token": token,
    }


class PatientFormPages(Controller):
    path = "/c/{clinic:str}/manage/{appointment_id:str}/forms/{instance_id:str}"
    include_in_schema = False
    exception_handlers = HTML_EXCEPTION_HANDLERS
    response_headers = [
        ResponseHeader(name=k, value=v) for k, v in {**PAGE_HEADERS, **PRIVATE_HEADERS}.items()
    ]

    @get("/", name="web:form")
    async def show(
        self,
        clinic: FromPath[str],
        appointment_id: FromPath[str],
        instance_id: FromPath[str],
        token: FromQuery[str | None] = None,
        saved: FromQuery[bool] = False,
    ) -> Template:
        tenant = await provide_public_tenant(clinic)
        appt, instance = await _load(tenant, appointment_id, instance_id, token)
        return Template(
            "forms/fill.html", context=_context(tenant, appt, instance, token or "", saved=saved)
        )

    @post("/", name="web:form-save", status_code=200)
    async def save(
        self,
        request: Request[Any, Any, Any],
        clinic: FromPath[str],
        appointment_id: FromPath[str],
        instance_id: FromPath[str],
        token: FromQuery[str | None] = None,
    ) -> Template | Redirect:
        tenant = await provide_public_tenant(clinic)
        appt, instance = await _load(tenant, appointment_id, instance_id, token)
        form = await request.form()
        raw = _raw_answers(instance.fields, form)
        submit = form.get("action") == "submit"
        errors: list[dict[str, str]] = []
        try:
            async with tenant_tx(tenant) as conn:
                instance, errors = await instances.save_answers(
                    conn, appt.id, instance.id, raw, Filler("patient"), datetime.now(UTC)
                )
            if submit and not errors:
                async with tenant_tx(tenant) as conn:
                    instance = await instances.submit(conn, appt.id, instance.id, Filler("patient"))
        except ValidationFailed as exc:
            errors = exc.errors or []
        except CarebookError:
            raise
        if errors:
            # Show what was typed (valid answers were saved), each error by its field.
            values = {**instance.answers, **{k: v for k, v in raw.items() if v is not None}}
            for key, value in raw.items():
                spec = next(f for f in instance.fields if f.key == key)
                if spec.type == "consent" and isinstance(value, dict):
                    values[key] = {"agreed": bool(value.get("agreed")), "name": value.get("name")}
            return Template(
                "forms/fill.html",
                status_code=422,
                context=_context(
                    tenant,
                    appt,
                    instance,
                    token or "",
                    values=values,
                    errors={e["field"]: e["message"] for e in errors},
                ),
            )
        target = (
            manage_path(tenant, appt.id, token or "")
            if submit
            else form_path(tenant, appt.id, instance.id, token or "") + "&saved=1"
        )
        return Redirect(target, status_code=303)

    @get("/print", name="web:form-print")
    async def printable(
        self,
        clinic: FromPath[str],
        appointment_id: FromPath[str],
        instance_id: FromPath[str],
        token: FromQuery[str | None] = None,
    ) -> Template:
        """A printable page of a form and its answers (print or save as PDF from the browser)."""
        tenant = await provide_public_tenant(clinic)
        appt, instance = await _load(tenant, appointment_id, instance_id, token)
        return Template("forms/print.html", context=_context(tenant, appt, instance, token or ""))


async def manage_forms(tenant: Tenant, appt: reads.PatientAppointment, token: str) -> list[Any]:
    """The forms shown on the manage page, with their links."""
    async with tenant_tx(tenant) as conn:
        found = await instances.list_instances(conn, appt.id)
    return [
        {
            "name": i.name,
            "phase": i.phase,
            "status": i.status,
            "url": form_path(tenant, appt.id, i.id, token),
            "print_url": print_path(tenant, appt.id, i.id, token),
            "open": i.phase == "intake"
            and i.status == "pending"
            and appt.status in instances.PATIENT_EDITABLE,
        }
        for i in found
        if instances.patient_visible(i)
    ]


route_handlers: list[Any] = [PatientFormPages]
