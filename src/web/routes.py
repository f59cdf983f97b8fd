"""HTTP routes of the web domain: the public booking pages (HTML) and the `.ics` download."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Controller, Response, get
from litestar.datastructures import ResponseHeader
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from calendars.schemas import PublicCalendar
from carebook.errors import NotFound
from carebook.settings import get_settings
from carebook.tenancy import Tenant
from tenants.guards import provide_public_tenant
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

# The manage link carries a secret: never leak it to other sites, never cache the page.
PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


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


class PublicPages(Controller):
    """Pages for patients; errors render as HTML pages with the right status code."""

    path = "/c/{clinic:str}"
    include_in_schema = False
    exception_handlers = HTML_EXCEPTION_HANDLERS
    response_headers = [ResponseHeader(name=k, value=v) for k, v in PAGE_HEADERS.items()]

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
    async def booking_page(self, clinic: FromPath[str], calendar_slug: FromPath[str]) -> Template:
        """Slot choice, hold, contact form and confirmation for one calendar."""
        tenant = await provide_public_tenant(clinic)
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
        clinic: FromPath[str],
        appointment_id: FromPath[str],
        token: FromQuery[str | None] = None,
    ) -> Template:
        """A read-only view of one appointment for the holder of its manage link."""
        tenant = await provide_public_tenant(clinic)
        try:
            appt = await reads.appointment_for_patient(tenant, appointment_id, token)
        except NotFound as exc:
            return error_page(exc, tenant=tenant)
        zone = zone_or(appt.patient_timezone, tenant.timezone)
        clinic_zone = zone_or(tenant.timezone, "UTC")
        return Template(
            "manage.html",
            headers=PRIVATE_HEADERS,
            context={
                "tenant": tenant,
                "appt": appt,
                "page_title": f"Your appointment – {tenant.name}",
                "status": STATUS_LABELS.get(appt.status, appt.status),
                "date": date_text(appt.starts_at, zone),
                "times": time_range_text(appt.starts_at, appt.ends_at, zone),
                "zone": zone.key,
                "clinic_times": None
                if zone.key == clinic_zone.key
                else f"{date_text(appt.starts_at, clinic_zone)}, "
                f"{time_range_text(appt.starts_at, appt.ends_at, clinic_zone)}",
                "price": format_price(appt.price_minor, appt.currency),
                "ics_url": ics_path(tenant, appt.id, token or ""),
            },
        )

    @get("/appointments/{filename:str}", name="web:ics")
    async def appointment_ics_file(
        self, clinic: FromPath[str], filename: FromPath[str], token: FromQuery[str | None] = None
    ) -> Response[bytes]:
        """``<appointment id>.ics``: the appointment as an RFC 5545 file."""
        if not filename.endswith(".ics"):
            raise NotFound("There is no such file.", code="not_found")
        tenant = await provide_public_tenant(clinic)
        appt = await reads.appointment_for_patient(tenant, filename.removesuffix(".ics"), token)
        base_url = get_settings().base_url
        body = appointment_ics(
            tenant, appt, base_url + manage_path(tenant, appt.id, token or ""), base_url
        )
        return Response(
            body,
            media_type="text/calendar; charset=utf-8",
            headers={
                **PRIVATE_HEADERS,
                "Content-Disposition": f'attachment; filename="appointment-{appt.id}.ics"',
            },
        )


route_handlers: list[Any] = [PublicPages, BrandingAssets, *staff_route_handlers]
