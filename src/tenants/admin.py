"""Piccolo admin for platform admins, guarded so that it cannot break tenancy.

Piccolo admin edits rows with plain ORM writes; a clinic is more than its registry row (a
schema, its tables, a clinic admin). So on the ``tenants`` table:

- "Add row" is refused (405): clinics are created by the "Onboard a clinic" form, which
  runs ``tenants.service.onboard_clinic`` (schema, migrations, admin and token in one
  transaction), like the CLI and the platform API;
- edits may change the name, time zone (validated), settings (validated) and status (a choice
  list); ``slug``, ``schema_name``, ``id`` and ``created_at`` are read-only;
- rows are never deleted (a registry row without its schema, or the reverse, is a broken
  clinic): suspend instead. Suspension and reactivation are forms (actions);
- "Clinic usage" downloads per-clinic usage as CSV (appointments this month, active staff,
  last activity, schema size); the same figures are at ``/api/v1/platform/usage``.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from uuid import UUID

from piccolo_admin.endpoints import FileResponse, FormConfig, TableConfig, create_admin
from piccolo_api.crud.endpoints import PiccoloCRUD
from piccolo_api.crud.hooks import Hook, HookType
from piccolo_api.crud.validators import Validators
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.requests import Request

from carebook.errors import CarebookError
from carebook.tenancy import ClinicSettings
from carebook.zones import valid_zone
from tenants import service, usage
from tenants.tables import PlatformApiToken, Tenant, TenantStatus

READ_ONLY = ("id", "slug", "schema_name", "created_at")
STATUSES = tuple(s.value for s in TenantStatus)


def _refuse_create(piccolo_crud: PiccoloCRUD, request: Request) -> None:
    raise HTTPException(
        status_code=405,
        detail="Clinics are created with the 'Onboard a clinic' form: it creates the clinic's "
        "schema, tables and admin along with this row.",
    )


def _refuse_replace(piccolo_crud: PiccoloCRUD, request: Request) -> None:
    raise HTTPException(status_code=405, detail="Edit a clinic field by field (PATCH).")


def _refuse_delete(piccolo_crud: PiccoloCRUD, request: Request) -> None:
    raise HTTPException(
        status_code=405,
        detail="Clinics are never deleted here (their schema would be orphaned): use the "
        "'Suspend a clinic' form.",
    )


def _unprocessable(detail: str) -> HTTPException:
    return HTTPException(status_code=422, detail=detail)


def _settings_problem(value: Any) -> str | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return "settings must be a JSON object."
    if not isinstance(value, dict):
        return "settings must be a JSON object."
    fields = ClinicSettings.__dataclass_fields__
    defaults = ClinicSettings()
    for key, item in value.items():
        if key not in fields:
            return f"settings: unknown key '{key}' (known: {', '.join(sorted(fields))})."
        expected = type(getattr(defaults, key))
        if type(item) is not expected:
            return f"settings.{key} must be a {expected.__name__}."
    return None


async def _check_edit(piccolo_crud: PiccoloCRUD, request: Request) -> None:
    """PATCH: read-only fields unchanged, status from the list, zone and settings valid."""
    try:
        data = await request.json()
    except ValueError as exc:
        raise _unprocessable("The body must be a JSON object.") from exc
    if not isinstance(data, dict):
        raise _unprocessable("The body must be a JSON object.")
    try:
        row_id = UUID(str(request.path_params["row_id"]))
    except ValueError as exc:
        raise HTTPException(status_code=404, detail="There is no such clinic.") from exc
    current = await Tenant.select().where(Tenant.id == row_id).first()
    if current is None:
        raise HTTPException(status_code=404, detail="There is no such clinic.")
    for key in ("slug", "schema_name"):
        if key in data and data[key] != current[key]:
            raise _unprocessable(f"{key} is read-only after a clinic is created.")
    if "status" in data and data["status"] not in STATUSES:
        raise _unprocessable(f"status must be one of: {', '.join(STATUSES)}.")
    if "timezone" in data:
        try:
            valid_zone(str(data["timezone"]))
        except CarebookError as exc:
            raise _unprocessable(f"timezone: {exc.detail or exc.title}") from exc
    if "name" in data and not (isinstance(data["name"], str) and 1 <= len(data["name"]) <= 200):
        raise _unprocessable("name must be 1-200 characters.")
    if "settings" in data and (problem := _settings_problem(data["settings"])):
        raise _unprocessable(problem)
    service.forget_cached(current["slug"])


async def _keep_read_only(row_id: Any, values: dict[Any, Any]) -> dict[Any, Any]:
    """Whatever the edit form sends back for the read-only columns is not written."""
    return {c: v for c, v in values.items() if c._meta.name not in READ_ONLY}


TENANT_VALIDATORS = Validators(
    post_single=[_refuse_create],
    put_single=[_refuse_replace],
    patch_single=[_check_edit],
    delete_single=[_refuse_delete],
    delete_all=[_refuse_delete],
)


class OnboardClinic(BaseModel):
    slug: str = Field(description="3-40 characters: a-z, 0-9 and '-'; read-only afterwards.")
    name: str
    timezone: str = Field(default="Europe/Berlin", description="IANA time zone")
    admin_email: str
    admin_name: str = "Clinic admin"


class ClinicSlug(BaseModel):
    slug: str


class UsageFilter(BaseModel):
    slug: str | None = Field(default=None, description="One clinic, or empty for all.")


def _form_error(exc: CarebookError) -> ValueError:
    fields = "; ".join(f"{e['field']}: {e['message']}" for e in exc.errors or [])
    return ValueError(fields or exc.detail or exc.title)


async def onboard(request: Request, data: OnboardClinic) -> str:
    try:
        row, token = await service.onboard_clinic(
            slug=data.slug,
            name=data.name,
            timezone=data.timezone,
            admin_email=data.admin_email,
            admin_name=data.admin_name,
        )
    except CarebookError as exc:
        raise _form_error(exc) from exc
    return (
        f"Clinic '{row['slug']}' created (schema {row['schema_name']}). The clinic admin's API "
        f"token, shown once: {token}"
    )


async def _set_status(slug: str, status: str) -> str:
    try:
        row = await service.set_clinic_status(slug.strip(), status)
    except CarebookError as exc:
        raise _form_error(exc) from exc
    return f"Clinic '{row['slug']}' is now {row['status']}."


async def suspend(request: Request, data: ClinicSlug) -> str:
    return await _set_status(data.slug, TenantStatus.suspended.value)


async def reactivate(request: Request, data: ClinicSlug) -> str:
    return await _set_status(data.slug, TenantStatus.active.value)


async def usage_csv(request: Request, data: UsageFilter) -> FileResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    columns = ["slug", "name", "status", "appointments_this_month", "active_staff",
               "last_activity", "schema_bytes"]  # fmt: skip
    writer.writerow(columns)
    offset, page = 0, 1000
    while True:
        rows = await usage.clinics_usage(slug=data.slug or None, limit=page, offset=offset)
        for u in rows:
            item = u.as_json()
            writer.writerow(["" if item[c] is None else item[c] for c in columns])
        if len(rows) < page:
            break
        offset += page
    return FileResponse(contents=out, file_name="clinic-usage.csv", media_type="text/csv")


FORMS = [
    FormConfig(
        name="Onboard a clinic",
        pydantic_model=OnboardClinic,
        endpoint=onboard,
        description="Creates the clinic, its schema and tables, and its first admin.",
        form_group="Clinics",
    ),
    FormConfig(
        name="Suspend a clinic",
        pydantic_model=ClinicSlug,
        endpoint=suspend,
        description="Patients can no longer book and staff cannot sign in; data is kept.",
        form_group="Clinics",
    ),
    FormConfig(
        name="Reactivate a clinic",
        pydantic_model=ClinicSlug,
        endpoint=reactivate,
        form_group="Clinics",
    ),
    FormConfig(
        name="Clinic usage",
        pydantic_model=UsageFilter,
        endpoint=usage_csv,
        description="Appointments this month, active staff, last activity and schema size "
        "per clinic, as CSV.",
        form_group="Clinics",
    ),
]


def platform_admin_app(
    *, production: bool, allowed_hosts: list[str], extra_tables: list[Any] | None = None
) -> Any:
    """The Piccolo admin ASGI app with the clinic registry guarded (``extra_tables``: other
    platform tables admins read, e.g. the dead-letter list)."""
    from piccolo.apps.user.tables import BaseUser

    tenants = TableConfig(
        Tenant,
        validators=TENANT_VALIDATORS,
        hooks=[Hook(hook_type=HookType.pre_patch, callable=_keep_read_only)],
        visible_columns=[
            Tenant.slug,
            Tenant.name,
            Tenant.status,
            Tenant.timezone,
            Tenant.created_at,
        ],
        link_column=Tenant.slug,
        menu_group="Clinics",
    )
    return create_admin(
        tables=[tenants, PlatformApiToken, BaseUser, *(extra_tables or [])],
        forms=FORMS,
        site_name="Carebook platform",
        production=production,
        allowed_hosts=allowed_hosts,
        sidebar_links={"Clinic usage (JSON)": "/api/v1/platform/usage"},
    )
