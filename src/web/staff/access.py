"""Who may open which staff page, checked on the server before any handler runs.

Every staff page handler declares ``opt={"roles": (...)}`` (or ``opt={"anonymous": True}``
for the sign-in and password pages). ``staff_page_guard`` is the controllers' guard: it
resolves the clinic and the session, refuses a handler that declares neither (fail closed),
checks the role, and checks the CSRF token of every state-changing form:

* signed in: the form's ``csrf_token`` field is an HMAC of the session token (as the API's
  ``X-CSRF-Token``);
* anonymous forms (sign-in, forgot/choose password): a double-submit token, the
  ``carebook_form`` cookie (set with the page) repeated in the form.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.handlers.base import BaseRouteHandler

from carebook.errors import CarebookError, Forbidden
from carebook.settings import get_settings
from carebook.tenancy import Tenant, tenant_tx
from tenants import service, staff
from tenants.guards import SAFE_METHODS, SESSION_COOKIE, csrf_token_for
from tenants.staff import StaffPrincipal

FORM_COOKIE = "carebook_form"
ALL_ROLES = ("admin", "receptionist", "specialist")
FRONT_DESK = ("admin", "receptionist")
ADMIN = ("admin",)


class SignInRequired(CarebookError):
    status, code, title = 401, "sign_in_required", "Please sign in"


class CsrfFailed(CarebookError):
    status, code, title = 403, "csrf_failed", "This form has expired"


def secure_cookies(request: Request[Any, Any, Any]) -> bool:
    return request.url.scheme == "https" or get_settings().base_url.startswith("https")


def form_cookie(request: Request[Any, Any, Any]) -> tuple[str, Cookie | None]:
    """The anonymous forms' double-submit token: the visitor's, or a new one to set."""
    current = request.cookies.get(FORM_COOKIE)
    if current and len(current) >= 32:
        return current, None
    value = secrets.token_urlsafe(32)
    cookie = Cookie(
        key=FORM_COOKIE,
        value=value,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
        path="/c/",
    )
    return value, cookie


async def staff_page_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    request: Request[Any, Any, Any] = connection  # type: ignore[assignment]
    tenant = await service.active_tenant(request.path_params["clinic"])
    request.state.tenant = tenant
    request.state.staff = None
    anonymous = bool(handler.opt.get("anonymous"))
    roles = handler.opt.get("roles")
    if not anonymous and not roles:
        raise Forbidden("This page declares no roles.", code="no_roles_declared")
    unsafe = request.method not in SAFE_METHODS
    cookie = request.cookies.get(SESSION_COOKIE)
    principal = await _principal(tenant, cookie) if cookie else None
    request.state.staff = principal
    if anonymous:
        if unsafe:
            form = await request.form()
            sent, have = str(form.get("form_token", "")), request.cookies.get(FORM_COOKIE, "")
            if not (sent and have and hmac.compare_digest(sent, have)):
                raise CsrfFailed("Reload the page and try again.")
        return
    if principal is None or cookie is None:
        raise SignInRequired("Sign in to continue.")
    if unsafe:
        form = await request.form()
        sent = str(form.get("csrf_token", "")) or request.headers.get("x-csrf-token", "")
        if not (sent and hmac.compare_digest(sent, csrf_token_for(cookie))):
            raise CsrfFailed("Reload the page and try again.")
    if principal.role not in (roles or ()):
        raise Forbidden("Your role does not allow this page.", code="role_forbidden")


async def _principal(tenant: Tenant, cookie: str) -> StaffPrincipal | None:
    async with tenant_tx(tenant) as conn:
        return await staff.principal_for_session(conn, cookie)


def page_staff(request: Request[Any, Any, Any]) -> StaffPrincipal:
    principal: StaffPrincipal = request.state.staff
    return principal


def page_tenant(request: Request[Any, Any, Any]) -> Tenant:
    tenant: Tenant = request.state.tenant
    return tenant


def csrf_for(request: Request[Any, Any, Any]) -> str:
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return csrf_token_for(cookie) if cookie else ""
