"""HTTP routes of the web domain: the public booking pages (HTML) and the `.ics` download."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get
from litestar.datastructures import ResponseHeader
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from calendars.schemas import PublicCalendar
from carebook import i18n
from carebook.errors import NotFound, TenantNotFound
from carebook.settings import get_settings
from carebook.tenancy import Tenant
from carebook.urls import public_base_url
from tenants.guards import provide_public_tenant
from tenants.service import find_tenant
from video.pages import manage_section
from web import reads
from web.branding import BrandingAssets
from web.display import (
    KIND_LABELS,
    STATUS_LABELS,
    date_text,
    duration_text,
    time_range_text,
    zone_or,
)
from web.errors import HTML_EXCEPTION_HANDLERS, PAGE_HEADERS, error_page
from web.ics import appointment_ics
from web.money import format_price
from web.staff.routes import route_handlers as staff_route_handlers
from web.zones import zone_label, zone_table

# The manage link carries a secret: never leak it to other sites, never cache the page.
PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


REVIEW_MESSAGES = {
    "thanks": {"ok": True, "text": "Thank you for your review!"},
    "rating_missing": {"ok": False, "text": "Choose a rating from 1 to 5."},
    "comment_too_long": {"ok": False, "text": "Keep the comment under 2000 characters."},
    "already_reviewed": {"ok": False, "text": "This appointment has already been reviewed."},
    "review_not_open": {"ok": False, "text": "You can review once the appointment took place."},
}


def manage_path(tenant: Tenant, appointment_id: Any, token: str) -> str:
    return f"/c/{tenant.slug}/manage/{appointment_id}?token={quote(token, safe='')}"


def ics_path(tenant: Tenant, appointment_id: Any, token: str) -> str:
    return f"/c/{tenant.slug}/appointments/{appointment_id}.ics?token={quote(token, safe='')}"


def _calendar_view(cal: PublicCalendar) -> dict[str, Any]:
    return {
        "id": cal.id,
        "slug": cal.slug,
        "name": cal.name,
        "kind": cal.kind,
        "kind_label": KIND_LABELS.get(cal.kind),
        "duration": duration_text(cal.duration_minutes),
        "price": format_price(cal.price_minor, cal.currency),
        "specialists": cal.specialists,
    }


async def lowercase_clinic(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """``/c/DEMO/…`` → ``/c/demo/…`` (slugs are lowercase; people type links as they like)."""
    clinic = request.path_params.get("clinic", "")
    if clinic == clinic.lower():
        return None
    path = request.url.path.replace(f"/c/{clinic}", f"/c/{clinic.lower()}", 1)
    query = request.url.query
    return Redirect(path + (f"?{query}" if query else ""), status_code=301)


async def _suspended_manage_page(
    tenant: Tenant, appointment_id: str, token: str | None
) -> Template:
    """A valid manage link of a suspended clinic explains what happened (the booking was not
    cancelled by this); anyone else sees the clinic as unavailable, like its other pages."""
    try:
        appt = await reads.appointment_for_patient(tenant, appointment_id, token)
    except NotFound:
        raise TenantNotFound(
            f"The clinic '{tenant.slug}' is not taking bookings right now.",
            code="clinic_unavailable",
        ) from None
    zone = zone_or(appt.patient_timezone, tenant.timezone)
    when = (
        f"{date_text(appt.starts_at, zone)}, {time_range_text(appt.starts_at, appt.ends_at, zone)}"
    )
    return Template(
        "error.html",
        status_code=200,
        headers={**PAGE_HEADERS, **PRIVATE_HEADERS},
        context={
            "page_title": f"{tenant.name} is not available online",
            "tenant": tenant,
            "heading": f"{tenant.name} is not available online right now",
            "detail": (
                f"The clinic has paused its online services, so this appointment ({when}, "
                f"{zone.key}) cannot be viewed or changed here for now. Pausing online "
                "services does not cancel appointments: please contact the clinic directly "
                "about your visit."
            ),
            "code": "clinic_suspended",
            "clinic_url": None,
        },
    )


class PublicPages(Controller):
    """Pages for patients; errors render as HTML pages with the right status code."""

    path = "/c/{clinic:str}"
    include_in_schema = False
    exception_handlers = HTML_EXCEPTION_HANDLERS
    response_headers = [ResponseHeader(name=k, value=v) for k, v in PAGE_HEADERS.items()]
    before_request = lowercase_clinic  # type: ignore[assignment]  # unbound by Litestar

    @get("/", name="web:clinic")
    async def clinic_page(self, clinic: FromPath[str]) -> Template:
        """The clinic's listed services and their calendars."""
        tenant = await provide_public_tenant(clinic)
        services = await reads.public_catalog(tenant)
        groups = [
            {
                "name": g.name,
                "description": g.description,
                "calendars": [_calendar_view(c) for c in g.calendars],
            }
            for g in services
        ]
        return Template(
            "clinic.html",
            context={"tenant": tenant, "services": groups, "page_title": tenant.name},
        )

    @get("/book/{calendar_slug:str}", name="web:book")
    async def booking_page(
        self, request: Request[Any, Any, Any], clinic: FromPath[str], calendar_slug: FromPath[str]
    ) -> Template:
        """Slot choice, hold, contact form and confirmation for one calendar."""
        tenant = await provide_public_tenant(clinic)
        lang = i18n.request_language(request, tenant.settings.default_language)
        try:
            cal = await reads.calendar_by_slug(tenant, calendar_slug)
        except NotFound as exc:
            return error_page(exc, tenant=tenant)
        config = {
            "clinic": tenant.slug,
            "clinicName": tenant.name,
            "clinicTimezone": tenant.timezone,
            "api": f"/api/v1/clinics/{tenant.slug}/public",
            "pagesBase": f"/c/{tenant.slug}",
            "calendar": {
                "id": str(cal.id),
                "slug": cal.slug,
                "name": cal.name,
                "durationMinutes": cal.duration_minutes,
                "horizonDays": cal.horizon_days,
                "priceMinor": cal.price_minor,
                "currency": cal.currency,
            },
            "specialists": [{"id": str(s.id), "name": s.name} for s in cal.specialists],
            "holdMinutes": tenant.settings.hold_minutes,
            "zoneNames": zone_table(lang),
        }
        return Template(
            "book.html",
            context={
                "tenant": tenant,
                "calendar": _calendar_view(cal),
                "config": config,
                "page_title": f"Book {cal.name} – {tenant.name}",
            },
        )

    @get("/manage/{appointment_id:str}", name="web:manage")
    async def manage_page(
        self,
        request: Request[Any, Any, Any],
        clinic: FromPath[str],
        appointment_id: FromPath[str],
        token: FromQuery[str | None] = None,
        review_outcome: Annotated[str | None, QueryParameter(name="review")] = None,
        change: FromQuery[str | None] = None,
    ) -> Template:
        """A read-only view of one appointment for the holder of its manage link."""
        tenant = await find_tenant(clinic)
        if not tenant.active:
            return await _suspended_manage_page(tenant, appointment_id, token)
        try:
            appt = await reads.appointment_for_patient(tenant, appointment_id, token)
        except NotFound as exc:
            return error_page(exc, tenant=tenant)
        zone = zone_or(appt.patient_timezone, tenant.timezone)
        clinic_zone = zone_or(tenant.timezone, "UTC")
        lang = i18n.request_language(request, tenant.settings.default_language)

        def when(z: ZoneInfo) -> tuple[str, str]:  # date and time range in the page's language
            start = i18n.time_text(appt.starts_at, z, lang)
            end = i18n.time_text(appt.ends_at, z, lang)
            return i18n.date_text(appt.starts_at, z, lang), f"{start}–{end}"

        date, times = when(zone)
        # These modules import this one's link helpers.
        from web.patient_changes import change_message, changes_for
        from web.patient_forms import manage_forms
        from web.patient_review import manage_review

        forms = await manage_forms(tenant, appt, token or "")
        review = await manage_review(tenant, appt, token or "")
        return Template(
            "manage.html",
            headers=PRIVATE_HEADERS,
            context={
                "tenant": tenant,
                "appt": appt,
                "page_title": f"{i18n.gettext(lang, 'Your appointment')} – {tenant.name}",
                "status": i18n.gettext(lang, STATUS_LABELS.get(appt.status, appt.status)),
                "date": date,
                "times": times,
                "zone": zone_label(zone.key),
                "clinic_times": None
                if zone.key == clinic_zone.key
                else ", ".join(when(clinic_zone)),
                "price": format_price(appt.price_minor, appt.currency),
                "ics_url": ics_path(tenant, appt.id, token or ""),
                "forms": forms,
                "review": review,
                "review_message": REVIEW_MESSAGES.get(review_outcome or ""),
                "video": await manage_section(tenant, appt.id, token or ""),
                "changes": changes_for(tenant, appt, token or ""),
                "change_message": change_message(change),
                "token": token or "",
            },
        )

    @get("/appointments/{filename:str}", name="web:ics")
    async def appointment_ics_file(
        self,
        request: Request[Any, Any, Any],
        clinic: FromPath[str],
        filename: FromPath[str],
        token: FromQuery[str | None] = None,
    ) -> Response[bytes]:
        """``<appointment id>.ics``: the appointment as an RFC 5545 file."""
        if not filename.endswith(".ics"):
            raise NotFound("There is no such file.", code="not_found")
        tenant = await provide_public_tenant(clinic)
        appt = await reads.appointment_for_patient(tenant, filename.removesuffix(".ics"), token)
        # The UID's host stays the configured one (re-imports update the same event); the
        # link is the address the patient reached us by, like the booking's manage link.
        link = public_base_url(request) + manage_path(tenant, appt.id, token or "")
        body = appointment_ics(tenant, appt, link, get_settings().base_url)
        return Response(
            body,
            media_type="text/calendar; charset=utf-8",
            headers={
                **PRIVATE_HEADERS,
                "Content-Disposition": f'attachment; filename="appointment-{appt.id}.ics"',
            },
        )


route_handlers: list[Any] = [PublicPages, BrandingAssets, *staff_route_handlers]
