"""Who may call what: Litestar dependencies that resolve the clinic and the caller.

Routes declare their audience by the dependency they ask for:
``tenant`` (public, active clinic), ``staff`` (any staff member of that clinic),
``clinic_admin`` (a clinic admin), ``platform_user`` (a platform admin).
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from carebook.errors import Forbidden, TenantNotFound, Unauthorized
from carebook.requests import raise_strict_body_error
from carebook.settings import get_settings
from carebook.tenancy import Tenant, platform_tx, tenant_tx
from carebook.tokens import token_digest
from tenants import service, staff
from tenants.staff import StaffPrincipal

SESSION_COOKIE = "carebook_staff"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def bearer_token(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def csrf_token_for(session_token: str) -> str:
    return token_digest(f"csrf:{get_settings().secret_key}:{session_token}").hex()


async def provide_public_tenant(clinic: FromPath[str]) -> Tenant:
    """The clinic of a public route; a suspended clinic looks like no clinic to patients."""
    tenant = await service.find_tenant(clinic)
    if not tenant.active:
        raise TenantNotFound(
            f"The clinic '{clinic}' is not taking bookings right now.", code="clinic_unavailable"
        )
    return tenant


async def provide_public_route_tenant(
    request: Request[Any, Any, Any], clinic: FromPath[str]
) -> Tenant:
    tenant = await provide_public_tenant(clinic)
    raise_strict_body_error(request)  # no sign-in on public routes: once the clinic is known
    return tenant


async def provide_staff_tenant(clinic: FromPath[str]) -> Tenant:
    return await service.active_tenant(clinic)


async def provide_staff(
    request: Request[Any, Any, Any], staff_tenant: NamedDependency[Tenant]
) -> StaffPrincipal:
    token = bearer_token(request)
    async with tenant_tx(staff_tenant) as conn:
        if token is not None:
            principal = await staff.principal_for_token(conn, token)
            if principal is None:
                raise Unauthorized(
                    "The API token is not valid for this clinic.", code="invalid_token"
                )
            raise_strict_body_error(request)
            return principal
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            principal = await staff.principal_for_session(conn, cookie)
            if principal is not None:
                if request.method not in SAFE_METHODS and not signature_valid_csrf(request, cookie):
                    raise Forbidden("Missing or wrong X-CSRF-Token header.", code="csrf_failed")
                raise_strict_body_error(request)
                return principal
    raise Unauthorized("Sign in or send 'Authorization: Bearer <token>'.")


def signature_valid_csrf(request: Request[Any, Any, Any], session_token: str) -> bool:
    sent = request.headers.get(CSRF_HEADER, "")
    return bool(sent) and hmac.compare_digest(csrf_token_for(session_token), sent)


async def provide_clinic_admin(staff: NamedDependency[StaffPrincipal]) -> StaffPrincipal:
    if not staff.is_admin:
        raise Forbidden("Only clinic admins may do this.", code="admin_only")
    return staff


async def provide_platform_user(request: Request[Any, Any, Any]) -> int:
    """A platform admin's user id, from a platform API token or a Piccolo admin session."""
    token = bearer_token(request)
    async with platform_tx() as conn:
        if token is not None:
            user_id = await conn.fetchval(
                """SELECT u.id FROM platform_api_tokens t JOIN piccolo_user u ON u.id = t."user"
                   WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.active AND u.admin""",
                token_digest(token),
            )
            if user_id is None:
                raise Unauthorized("The platform API token is not valid.", code="invalid_token")
            raise_strict_body_error(request)
            return int(user_id)
        session_id = request.cookies.get("id")
        if session_id:
            user_id = await conn.fetchval(
                """SELECT u.id FROM sessions s JOIN piccolo_user u ON u.id = s.user_id
                   WHERE s.token = $1 AND s.expiry_date > now() AND u.active AND u.admin""",
                session_id,
            )
            if user_id is not None:
                if request.method not in SAFE_METHODS:
                    raise Forbidden("Use a platform API token for changes.", code="csrf_failed")
                return int(user_id)
    raise Unauthorized("Platform admins only: send 'Authorization: Bearer <platform token>'.")


PUBLIC = {"tenant": Provide(provide_public_route_tenant)}
STAFF = {
    "staff_tenant": Provide(provide_staff_tenant),
    "staff": Provide(provide_staff),
    "clinic_admin": Provide(provide_clinic_admin),
}
PLATFORM = {"platform_user": Provide(provide_platform_user)}

__all__ = ["PLATFORM", "PUBLIC", "STAFF", "StaffPrincipal"]
