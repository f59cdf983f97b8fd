"""Clinic settings (admins): booking rules, contact, language, branding, API tokens."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath
from litestar.response import Template

from carebook.errors import NotFound, ValidationFailed
from carebook.tenancy import tenant_tx
from tenants import clinic_settings
from tenants import staff as staff_store
from tenants.clinic_settings import LANGUAGES, NUMBERS, TEXTS
from web.staff.access import ADMIN, page_staff, page_tenant, staff_page_guard
from web.staff.render import RESPONSE_HEADERS, STAFF_EXCEPTION_HANDLERS, render


class SettingsPages(Controller):
    path = "/c/{clinic:str}/staff/settings"
    include_in_schema = False
    guards = [staff_page_guard]
    exception_handlers = STAFF_EXCEPTION_HANDLERS
    response_headers = RESPONSE_HEADERS

    @get("/", opt={"roles": ADMIN}, name="staff:settings")
    async def settings(self, request: Request[Any, Any, Any]) -> Template:
        return await self._page(request)

    async def _page(
        self,
        request: Request[Any, Any, Any],
        status_code: int = 200,
        errors: list[dict[str, str]] | None = None,
        values: dict[str, Any] | None = None,
        saved: str | None = None,
        new_token: str | None = None,
    ) -> Template:
        tenant = page_tenant(request)
        current = await clinic_settings.raw_settings(tenant.slug)
        defaults = {k: getattr(tenant.settings, k) for k in NUMBERS}
        contact = {k: current.get(k) or "" for k in TEXTS}
        shown = {"default_language": "en", "accent_colour": "", **defaults, **current,
                 **contact, **(values or {})}  # fmt: skip
        async with tenant_tx(tenant) as conn:
            tokens = await conn.fetch(
                """SELECT t.id, t.name, t.created_at, t.last_used_at, u.name AS owner
                   FROM staff_api_tokens t JOIN staff_users u ON u.id = t.staff_user
                   WHERE t.revoked_at IS NULL ORDER BY t.created_at"""
            )
            has_logo = await conn.fetchval("SELECT count(*) FROM clinic_branding") > 0
        return render(
            request, "settings.html", status_code=status_code,
            page_title=f"Settings – {tenant.name}", section="settings", v=shown,
            numbers=NUMBERS, languages=LANGUAGES, errors={e["field"]: e["message"]
                                                          for e in errors or []},
            saved=saved, tokens=tokens, new_token=new_token, has_logo=has_logo,
        )  # fmt: skip

    @post("/", opt={"roles": ADMIN}, name="staff:settings-save")
    async def save(self, request: Request[Any, Any, Any]) -> Template:
        tenant = page_tenant(request)
        form = {k: str(v) for k, v in (await request.form()).items() if isinstance(v, str)}
        try:
            changes = clinic_settings.clean(form, tenant)
        except ValidationFailed as exc:
            return await self._page(request, 422, exc.errors, values=form)
        await clinic_settings.save(tenant.slug, changes)
        return await self._page(request, saved="Settings saved.")

    @post("/logo", opt={"roles": ADMIN}, name="staff:settings-logo")
    async def upload_logo(self, request: Request[Any, Any, Any]) -> Template:
        tenant = page_tenant(request)
        form = await request.form()
        upload = form.get("logo")
        try:
            if form.get("remove"):
                await clinic_settings.remove_logo(tenant)
                return await self._page(request, saved="Logo removed.")
            if not isinstance(upload, UploadFile):
                raise ValidationFailed.field("logo", "Choose an image file.")
            await clinic_settings.save_logo(tenant, await upload.read(), upload.content_type)
        except ValidationFailed as exc:
            return await self._page(request, 422, exc.errors)
        return await self._page(request, saved="Logo saved.")

    @post("/tokens", opt={"roles": ADMIN}, name="staff:settings-token")
    async def issue_token(self, request: Request[Any, Any, Any]) -> Template:
        tenant, me = page_tenant(request), page_staff(request)
        name = str((await request.form()).get("name", "")).strip()[:100] or "api"
        async with tenant_tx(tenant) as conn:
            token = await staff_store.issue_token(conn, me.id, name)
        return await self._page(request, 201, new_token=token, saved="Token issued.")

    @post(
        "/tokens/{token_id:uuid}/revoke", opt={"roles": ADMIN}, name="staff:settings-token-revoke"
    )
    async def revoke_token(
        self, request: Request[Any, Any, Any], token_id: FromPath[UUID]
    ) -> Template:
        async with tenant_tx(page_tenant(request)) as conn:
            if not await staff_store.revoke_token(conn, token_id, None):
                raise NotFound("No such active token.", code="token_not_found")
        return await self._page(request, saved="Token revoked.")
