"""HTTP routes of the tenants domain: platform clinic admin API, staff sign-in and tokens."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
import phonenumbers
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter

from carebook import i18n
from carebook.contact import normalize_email, normalize_phone, region_for
from carebook.errors import NotFound, Unauthorized, ValidationFailed
from carebook.openapi import problems
from carebook.ratelimit import limit
from carebook.requests import raise_strict_body_error
from carebook.settings import get_settings
from carebook.tenancy import ClinicSettings, Tenant, tenant_tx
from carebook.tokens import token_digest
from tenants import service, usage
from tenants import staff as staff_store
from tenants.guards import (
    CSRF_HEADER,
    PLATFORM,
    SESSION_COOKIE,
    STAFF,
    StaffPrincipal,
    csrf_token_for,
)
from tenants.schemas import (
    ClinicCreate,
    ClinicOut,
    ClinicSettingsPatch,
    LoginIn,
    LoginOut,
    OnboardedClinic,
    StaffCreate,
    StaffOut,
    TokenCreate,
    TokenOut,
)


def _clinic(row: Any) -> ClinicOut:
    return ClinicOut(**service.clinic_json(row))


class PlatformClinicsController(Controller):
    path = "/api/v1/platform/tenants"
    tags = ["platform"]
    dependencies = PLATFORM

    @post("/", status_code=201, summary="Onboard a clinic")
    async def create(
        self, platform_user: NamedDependency[int], data: JSONBody[ClinicCreate]
    ) -> OnboardedClinic:
        done = await service.onboard(
            slug=data.slug,
            name=data.name,
            timezone=data.timezone,
            admin_email=data.admin_email,
            admin_name=data.admin_name,
        )
        return OnboardedClinic(
            clinic=_clinic(done.row),
            admin_token=done.admin_token,
            admin_set_password_url=done.set_password_url,
        )

    @get("/", summary="List clinics")
    async def index(self, platform_user: NamedDependency[int]) -> list[ClinicOut]:
        return [_clinic(r) for r in await service.list_clinics()]

    @get("/{slug:str}", summary="One clinic")
    async def show(self, platform_user: NamedDependency[int], slug: FromPath[str]) -> ClinicOut:
        return _clinic(await service.clinic_row(slug))

    @get("/{slug:str}/usage", summary="One clinic's usage")
    async def usage(
        self, platform_user: NamedDependency[int], slug: FromPath[str]
    ) -> dict[str, Any]:
        found = await usage.clinics_usage(slug=slug, limit=1)
        if not found:
            raise NotFound(f"There is no clinic '{slug}'.", code="clinic_not_found")
        return found[0].as_json()

    @post("/{slug:str}/suspend", status_code=200, summary="Suspend a clinic")
    async def suspend(self, platform_user: NamedDependency[int], slug: FromPath[str]) -> ClinicOut:
        return _clinic(await service.set_clinic_status(slug, "suspended"))

    @post("/{slug:str}/reactivate", status_code=200, summary="Reactivate a clinic")
    async def reactivate(
        self, platform_user: NamedDependency[int], slug: FromPath[str]
    ) -> ClinicOut:
        return _clinic(await service.set_clinic_status(slug, "active"))


def _staff_out(row: Any) -> StaffOut:
    return StaffOut(id=row["id"], email=row["email"], name=row["name"], role=row["role"],
                    active=row["active"])  # fmt: skip


class StaffAuthController(Controller):
    path = "/api/v1/clinics/{clinic:str}"
    tags = ["staff"]
    dependencies = STAFF

    @post("/auth/login", status_code=200, summary="Staff sign-in (sets a session cookie)")
    async def login(
        self,
        request: Request[Any, Any, Any],
        staff_tenant: NamedDependency[Tenant],
        data: JSONBody[LoginIn],
    ) -> Response[LoginOut]:
        await limit(request, f"login:{staff_tenant.slug}", "login")
        raise_strict_body_error(request)
        async with tenant_tx(staff_tenant) as conn:
            started = await staff_store.start_session(conn, data.email, data.password)
        if started is None:
            raise Unauthorized("Wrong email or password.", code="bad_credentials")
        token, row = started
        body = LoginOut(staff=_staff_out(row), csrf_token=csrf_token_for(token))
        cookie = Cookie(
            key=SESSION_COOKIE,
            value=token,
            httponly=True,
            secure=request.url.scheme == "https" or get_settings().base_url.startswith("https"),
            samesite="lax",
            path="/",
            max_age=int(staff_store.SESSION_LIFETIME.total_seconds()),
        )
        return Response(body, cookies=[cookie], headers={CSRF_HEADER: body.csrf_token})

    @post("/auth/logout", status_code=204, summary="End the staff session")
    async def logout(
        self,
        request: Request[Any, Any, Any],
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
    ) -> Response[None]:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            async with tenant_tx(staff_tenant) as conn:
                await staff_store.end_session(conn, cookie)
        return Response(
            None, status_code=204, cookies=[Cookie(key=SESSION_COOKIE, value="", max_age=0)]
        )

    @get("/me", summary="The calling staff member")
    async def me(self, staff: NamedDependency[StaffPrincipal]) -> dict[str, Any]:
        return {"id": staff.id, "email": staff.email, "name": staff.name, "role": staff.role}


class StaffAdminController(Controller):
    path = "/api/v1/clinics/{clinic:str}"
    tags = ["staff"]
    dependencies = STAFF

    @get("/staff", summary="List staff (clinic admins)")
    async def index(
        self, staff_tenant: NamedDependency[Tenant], clinic_admin: NamedDependency[StaffPrincipal]
    ) -> list[StaffOut]:
        async with tenant_tx(staff_tenant) as conn:
            rows = await conn.fetch(
                "SELECT id, email, name, role, active FROM staff_users ORDER BY name, email"
            )
        return [_staff_out(r) for r in rows]

    @post("/staff", status_code=201, summary="Add a staff member (clinic admins)")
    async def create(
        self,
        staff_tenant: NamedDependency[Tenant],
        clinic_admin: NamedDependency[StaffPrincipal],
        data: JSONBody[StaffCreate],
    ) -> StaffOut:
        async with tenant_tx(staff_tenant) as conn:
            staff_id = await staff_store.create_staff_user(
                conn, email=data.email, name=data.name, role=data.role, password=data.password
            )
            row = await conn.fetchrow(
                "SELECT id, email, name, role, active FROM staff_users WHERE id = $1", staff_id
            )
        return _staff_out(row)

    @post("/staff/{staff_id:uuid}/tokens", status_code=201,
          summary="Issue an API token for a staff member (clinic admins)")  # fmt: skip
    async def issue_for(
        self,
        staff_tenant: NamedDependency[Tenant],
        clinic_admin: NamedDependency[StaffPrincipal],
        staff_id: FromPath[UUID],
        data: JSONBody[TokenCreate],
    ) -> TokenOut:
        async with tenant_tx(staff_tenant) as conn:
            if not await conn.fetchval("SELECT 1 FROM staff_users WHERE id = $1", staff_id):
                raise NotFound("No such staff member.", code="staff_not_found")
            return await _issue(conn, staff_id, data.name)


async def _issue(conn: Any, staff_id: UUID, name: str) -> TokenOut:
    token = await staff_store.issue_token(conn, staff_id, name)
    row = await conn.fetchrow(
        "SELECT id, name, created_at FROM staff_api_tokens WHERE token_hash = $1",
        token_digest(token),
    )
    return TokenOut(id=row["id"], name=row["name"], created_at=row["created_at"], token=token)


class StaffTokensController(Controller):
    path = "/api/v1/clinics/{clinic:str}/tokens"
    tags = ["staff"]
    dependencies = STAFF

    @get("/", summary="My API tokens (never their secrets)")
    async def index(
        self, staff_tenant: NamedDependency[Tenant], staff: NamedDependency[StaffPrincipal]
    ) -> list[TokenOut]:
        async with tenant_tx(staff_tenant) as conn:
            rows = await conn.fetch(
                "SELECT id, name, created_at, revoked_at FROM staff_api_tokens "
                "WHERE staff_user = $1 ORDER BY created_at",
                staff.id,
            )
        return [TokenOut(id=r["id"], name=r["name"], created_at=r["created_at"],
                         revoked_at=r["revoked_at"]) for r in rows]  # fmt: skip

    @post("/", status_code=201, summary="Issue myself an API token (shown once)")
    async def create(
        self,
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        data: JSONBody[TokenCreate],
    ) -> TokenOut:
        async with tenant_tx(staff_tenant) as conn:
            return await _issue(conn, staff.id, data.name)

    @delete("/{token_id:uuid}", status_code=204, summary="Revoke a token (mine, or any as admin)")
    async def revoke(
        self,
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        token_id: FromPath[UUID],
    ) -> None:
        async with tenant_tx(staff_tenant) as conn:
            owner = None if staff.is_admin else staff.id
            if not await staff_store.revoke_token(conn, token_id, owner):
                raise NotFound("No such active token.", code="token_not_found")


@get(
    "/api/v1/platform/usage",
    tags=["platform"],
    dependencies=PLATFORM,
    summary="Clinics' usage: appointments this month, active staff, last activity, schema size",
)
async def clinics_usage(
    platform_user: NamedDependency[int],
    limit: Annotated[int, Parameter(ge=1, le=1000)] = 100,
    offset: Annotated[int, Parameter(ge=0)] = 0,
) -> list[dict[str, Any]]:
    return [u.as_json() for u in await usage.clinics_usage(limit=limit, offset=offset)]


class ClinicSettingsController(Controller):
    path = "/api/v1/clinics/{clinic:str}/settings"
    tags = ["staff"]
    dependencies = STAFF

    @get("/", summary="The clinic's settings (staff)")
    async def show(
        self, staff_tenant: NamedDependency[Tenant], staff: NamedDependency[StaffPrincipal]
    ) -> dict[str, Any]:
        return settings_json(staff_tenant.settings)

    @patch(
        "/",
        summary="Change contact details, language and reminder leads (clinic admins)",
        description="Contact details (address, phone, email, website) are shown on the booking "
        "pages, in every message and as the .ics LOCATION. `phone` is stored as E.164 (region: "
        "`country`, else the clinic's time zone); `null` clears a field. 422 on invalid values.",
        responses=problems(s403="admin_only", s422="invalid_phone, invalid_email, invalid_value"),
    )
    async def update(
        self,
        staff_tenant: NamedDependency[Tenant],
        clinic_admin: NamedDependency[StaffPrincipal],
        data: JSONBody[ClinicSettingsPatch],
    ) -> dict[str, Any]:
        changes = settings_changes(staff_tenant, data)
        return settings_json(await service.update_clinic_settings(staff_tenant, changes))


def settings_json(settings: ClinicSettings) -> dict[str, Any]:
    out = dict(settings.__dict__)
    out["reminder_leads_hours"] = list(settings.reminder_leads_hours)
    return out


def settings_changes(tenant: Tenant, data: ClinicSettingsPatch) -> dict[str, Any]:
    """The validated, normalized changes (``None`` = clear the field)."""
    changes: dict[str, Any] = {
        k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET
    }
    if changes.get("country"):
        country = changes["country"].upper()
        if country not in phonenumbers.SUPPORTED_REGIONS:
            raise ValidationFailed.field("country", f"'{country}' is not a country code.")
        changes["country"] = country
    country = changes.get("country", tenant.settings.country)
    if changes.get("phone"):
        changes["phone"] = normalize_phone(
            changes["phone"], region_for(country, tenant.timezone), "phone"
        )
    if changes.get("email"):
        changes["email"] = normalize_email(changes["email"], "email")
    if "default_language" in changes:
        lang = i18n.normalize(changes["default_language"])
        if lang is None:
            raise ValidationFailed.field(
                "default_language",
                f"One of {', '.join(i18n.available_languages())}.",
                code="unsupported_language",
            )
        changes["default_language"] = lang
    if "reminder_leads_hours" in changes:
        changes["reminder_leads_hours"] = sorted(set(changes["reminder_leads_hours"]), reverse=True)
    return changes


route_handlers = [
    PlatformClinicsController,
    clinics_usage,
    StaffAuthController,
    StaffAdminController,
    StaffTokensController,
    ClinicSettingsController,
]
