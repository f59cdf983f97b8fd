"""Staff sign-in, sign-out and the one-time password pages (invitation and reset)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from carebook.errors import CarebookError, RateLimited
from carebook.ratelimit import limit
from carebook.tenancy import tenant_tx
from tenants import password_links
from tenants import staff as staff_store
from tenants.guards import SESSION_COOKIE
from web.staff.access import (
    ALL_ROLES,
    form_cookie,
    page_tenant,
    secure_cookies,
    staff_page_guard,
)
from web.staff.render import RESPONSE_HEADERS, STAFF_EXCEPTION_HANDLERS, render

ANON = {"anonymous": True}
NOTICES = {
    "signed_out": "You are signed out.",
    "password_saved": "Password saved. Sign in with it.",
}
BAD_LOGIN = (
    "Wrong e-mail or password. After 5 failed attempts in a row the account is locked "
    "for 15 minutes."
)


def _safe_next(clinic: str, target: str | None) -> str:
    """Only a staff page of this clinic is a place to go back to (no open redirect)."""
    prefix = f"/c/{clinic}/staff/"
    if target and target.startswith(prefix) and "//" not in target and "\\" not in target:
        return target
    return f"{prefix}agenda"


def _with_form_cookie(
    request: Request[Any, Any, Any], template: str, status_code: int = 200, **context: Any
) -> Template:
    token, cookie = form_cookie(request)
    page = render(request, template, status_code=status_code, form_token=token, **context)
    if cookie is not None:
        page.cookies.append(cookie)
    return page


class StaffAuthPages(Controller):
    path = "/c/{clinic:str}/staff"
    include_in_schema = False
    guards = [staff_page_guard]
    exception_handlers = STAFF_EXCEPTION_HANDLERS
    response_headers = RESPONSE_HEADERS

    @get("/", opt={"roles": ALL_ROLES}, name="staff:home")
    async def home(self, request: Request[Any, Any, Any]) -> Redirect:
        return Redirect(f"/c/{page_tenant(request).slug}/staff/agenda", status_code=303)

    @get("/login", opt=ANON, name="staff:login")
    async def login_page(
        self, request: Request[Any, Any, Any], next: FromQuery[str | None] = None
    ) -> Response[Any]:
        tenant = page_tenant(request)
        if request.state.staff is not None:
            return Redirect(_safe_next(tenant.slug, next), status_code=303)
        return _with_form_cookie(
            request,
            "login.html",
            page_title=f"Sign in – {tenant.name}",
            next=next or "",
            email="",
            error=None,
            notice=NOTICES.get(request.query_params.get("notice", "")),
        )

    @post("/login", opt=ANON, name="staff:login-post")
    async def login(self, request: Request[Any, Any, Any]) -> Response[Any]:
        tenant = page_tenant(request)
        form = await request.form()
        email, password = str(form.get("email", "")), str(form.get("password", ""))
        next_ = str(form.get("next", ""))
        try:
            await limit(request, f"login:{tenant.slug}", "login")
        except RateLimited:
            return _with_form_cookie(
                request,
                "login.html",
                status_code=429,
                page_title="Sign in",
                next=next_,
                email=email,
                notice=None,
                error="Too many sign-in attempts from here. Wait a minute and try again.",
            )
        started = None
        if email and password and len(password) <= 200:
            async with tenant_tx(tenant) as conn:
                started = await staff_store.start_session(conn, email, password)
        if started is None:
            return _with_form_cookie(
                request,
                "login.html",
                status_code=401,
                page_title="Sign in",
                next=next_,
                email=email,
                error=BAD_LOGIN,
                notice=None,
            )
        token, _row = started
        response = Redirect(_safe_next(tenant.slug, next_), status_code=303)
        response.cookies.append(
            Cookie(
                key=SESSION_COOKIE,
                value=token,
                httponly=True,
                secure=secure_cookies(request),
                samesite="lax",
                path="/",
                max_age=int(staff_store.SESSION_LIFETIME.total_seconds()),
            )
        )
        return response

    @post("/logout", opt={"roles": ALL_ROLES}, name="staff:logout")
    async def logout(self, request: Request[Any, Any, Any]) -> Redirect:
        tenant = page_tenant(request)
        async with tenant_tx(tenant) as conn:
            await staff_store.end_session(conn, request.cookies.get(SESSION_COOKIE, ""))
        response = Redirect(f"/c/{tenant.slug}/staff/login?notice=signed_out", status_code=303)
        response.cookies.append(Cookie(key=SESSION_COOKIE, value="", max_age=0, path="/"))
        return response

    @get("/password/forgot", opt=ANON, name="staff:forgot")
    async def forgot_page(self, request: Request[Any, Any, Any]) -> Template:
        return _with_form_cookie(
            request, "forgot.html", page_title="Reset your password", sent=False
        )

    @post("/password/forgot", opt=ANON, name="staff:forgot-post")
    async def forgot(self, request: Request[Any, Any, Any]) -> Template:
        tenant = page_tenant(request)
        await limit(request, f"login:{tenant.slug}", "login")
        email = str((await request.form()).get("email", ""))[:320]
        if "@" in email:
            async with tenant_tx(tenant) as conn:
                await password_links.request_reset(conn, tenant.slug, email)
        return _with_form_cookie(
            request, "forgot.html", page_title="Reset your password", sent=True, email=email
        )

    @get("/password", opt=ANON, name="staff:password")
    async def password_page(
        self, request: Request[Any, Any, Any], token: FromQuery[str | None] = None
    ) -> Template:
        tenant = page_tenant(request)
        owner = None
        if token:
            async with tenant_tx(tenant) as conn:
                owner = await password_links.link_owner(conn, token)
        page = _with_form_cookie(
            request,
            "password.html",
            status_code=200 if owner else 404,
            page_title="Choose your password",
            owner=owner,
            token=token or "",
            error=None,
        )
        page.headers["Referrer-Policy"] = "no-referrer"
        return page

    @post("/password", opt=ANON, name="staff:password-post")
    async def set_password(self, request: Request[Any, Any, Any]) -> Response[Any]:
        tenant = page_tenant(request)
        await limit(request, f"login:{tenant.slug}", "login")
        form = await request.form()
        token = str(form.get("token", ""))
        password, again = str(form.get("password", "")), str(form.get("password2", ""))
        async with tenant_tx(tenant) as conn:
            owner = await password_links.link_owner(conn, token) if token else None
        error = None
        if owner is not None:
            if password != again:
                error = "The two passwords differ."
            else:
                try:
                    async with tenant_tx(tenant) as conn:
                        await password_links.use_link(conn, token, password[:200])
                except CarebookError as exc:
                    error = exc.detail
                else:
                    return Redirect(
                        f"/c/{tenant.slug}/staff/login?notice=password_saved",
                        status_code=303,
                    )
        return _with_form_cookie(
            request,
            "password.html",
            status_code=422 if owner else 404,
            page_title="Choose your password",
            owner=owner,
            token=token,
            error=error,
        )
