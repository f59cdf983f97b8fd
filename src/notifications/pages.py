"""Patient pages of the notifications domain: language choice and magic-link sign-in."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie, ResponseHeader
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

from carebook import i18n
from carebook.contact import normalize_email
from carebook.errors import ValidationFailed
from carebook.ratelimit import limit
from carebook.settings import get_settings
from notifications import magic
from tenants.guards import provide_public_tenant
from web.display import STATUS_LABELS, zone_or
from web.errors import HTML_EXCEPTION_HANDLERS, PAGE_HEADERS

PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
ONE_YEAR = 365 * 24 * 3600


def _secure() -> bool:
    return get_settings().base_url.startswith("https")


class PatientPages(Controller):
    path = "/c/{clinic:str}"
    include_in_schema = False
    exception_handlers = HTML_EXCEPTION_HANDLERS
    response_headers = [ResponseHeader(name=k, value=v) for k, v in PAGE_HEADERS.items()]

    @get("/language/{code:str}", name="notifications:language")
    async def choose_language(
        self, clinic: FromPath[str], code: FromPath[str], next: FromQuery[str | None] = None
    ) -> Redirect:
        """Remember the patient's language (cookie) and go back to the page they were on."""
        tenant = await provide_public_tenant(clinic)
        home = f"/c/{tenant.slug}"
        target = next if next and (next == home or next.startswith(home + "/")) else home
        lang = i18n.normalize(code)
        cookies = []
        if lang:
            cookies.append(
                Cookie(
                    key=i18n.LANG_COOKIE,
                    value=lang,
                    max_age=ONE_YEAR,
                    path="/",
                    samesite="lax",
                    secure=_secure(),
                    httponly=False,
                )
            )
        return Redirect(target, status_code=303, cookies=cookies)

    @post("/sign-in", name="notifications:sign_in_request", status_code=200)
    async def request_sign_in(
        self,
        request: Request[Any, Any, Any],
        clinic: FromPath[str],
        data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Template:
        """E-mail a sign-in link; the answer is the same whether the address is known."""
        tenant = await provide_public_tenant(clinic)
        await limit(request, tenant.slug, "sign_in")
        lang = i18n.request_language(request, tenant.settings.default_language)
        raw = (data.get("email") or "").strip()
        try:
            email = normalize_email(raw)
        except ValidationFailed:
            return Template(
                "patient_sign_in.html",
                status_code=422,
                headers=PRIVATE,
                context={
                    "tenant": tenant,
                    "state": "invalid",
                    "email": raw[:254],
                    "page_title": tenant.name,
                },
            )
        await magic.request_link(tenant, email, lang)
        return Template(
            "patient_sign_in.html",
            headers=PRIVATE,
            context={
                "tenant": tenant,
                "state": "sent",
                "email": email,
                "minutes": magic.LINK_MINUTES,
                "page_title": tenant.name,
            },
        )

    @get("/sign-in/{token:str}", name="notifications:sign_in_confirm")
    async def confirm_sign_in(self, clinic: FromPath[str], token: FromPath[str]) -> Template:
        """The link from the e-mail: a button to continue (GET never spends the link)."""
        tenant = await provide_public_tenant(clinic)
        if not await magic.link_usable(tenant, token):
            return _expired(tenant)
        return Template(
            "patient_sign_in.html",
            headers=PRIVATE,
            context={"tenant": tenant, "state": "confirm", "token": token,
                     "page_title": tenant.name},
        )  # fmt: skip

    @post("/sign-in/{token:str}", name="notifications:sign_in", status_code=303)
    async def sign_in(self, clinic: FromPath[str], token: FromPath[str]) -> Response[Any]:
        """Spend the link and open the patient's list (a session cookie for this clinic)."""
        tenant = await provide_public_tenant(clinic)
        patient_id = await magic.use_link(tenant, token)
        if patient_id is None:
            return _expired(tenant)
        cookie = Cookie(
            key=magic.SESSION_COOKIE, value=magic.session_value(tenant, patient_id),
            max_age=magic.SESSION_MINUTES * 60, path=f"/c/{tenant.slug}/", httponly=True,
            samesite="lax", secure=_secure(),
        )  # fmt: skip
        return Redirect(f"/c/{tenant.slug}/me", status_code=303, cookies=[cookie], headers=PRIVATE)

    @get("/me", name="notifications:my_appointments")
    async def my_appointments(
        self, request: Request[Any, Any, Any], clinic: FromPath[str]
    ) -> Response[Any]:
        """The signed-in patient's appointments at this clinic, each with its manage link."""
        tenant = await provide_public_tenant(clinic)
        patient_id = magic.session_patient(tenant, request.cookies.get(magic.SESSION_COOKIE))
        if patient_id is None:
            return Redirect(f"/c/{tenant.slug}#magic-heading", status_code=303)
        lang = i18n.request_language(request, tenant.settings.default_language)
        rows = await magic.patient_appointments(tenant, patient_id)
        items = []
        for r in rows:
            zone = zone_or(r["patient_timezone"], tenant.timezone)
            items.append({
                **r, **magic.when_text(r["starts_at"], r["ends_at"], zone, lang),
                "zone": zone.key,
                "status_label": i18n.gettext(lang, STATUS_LABELS.get(r["status"], r["status"])),
            })  # fmt: skip
        return Template(
            "patient_appointments.html",
            headers=PRIVATE,
            context={"tenant": tenant, "appointments": items,
                     "page_title": f"{i18n.gettext(lang, 'Your appointments')} – {tenant.name}"},
        )  # fmt: skip


def _expired(tenant: Any) -> Template:
    return Template(
        "patient_sign_in.html",
        status_code=410,
        headers=PRIVATE,
        context={"tenant": tenant, "state": "expired", "page_title": tenant.name},
    )


route_handlers: list[Any] = [PatientPages]
