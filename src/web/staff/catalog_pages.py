"""Catalog editor (admins): services and their booking calendars, on calendars.catalog.

Prices are typed as money (``65.00``) and stored in minor units of the currency; a
calendar's active window is given as local dates in the clinic's zone. Required forms are
chosen among the clinic's live intake templates (``forms.service``); the forms domain's
trigger refuses any other id (422 ``unknown_form``, shown on the page).
"""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from calendars import catalog
from calendars.schemas import CalendarIn, CalendarOut, CalendarPatch, ServiceIn, ServicePatch
from calendars.service import list_specialists
from carebook.errors import CarebookError, ValidationFailed
from carebook.tenancy import tenant_tx
from carebook.zones import parse_local_date, valid_zone
from forms import service as form_templates
from web.money import format_price, minor_unit_exponent
from web.staff.access import ADMIN, page_tenant, staff_page_guard
from web.staff.availability_pages import WEEKDAYS, parse_intervals
from web.staff.render import RESPONSE_HEADERS, STAFF_EXCEPTION_HANDLERS, render

KINDS = {"standard": "Standard", "promotional": "Promotional", "campaign": "Campaign"}


def _price_minor(text: str, currency: str) -> int:
    exponent = minor_unit_exponent(currency)
    try:
        value = Decimal(text.replace(",", ".").strip() or "x")
    except InvalidOperation as exc:
        raise ValidationFailed.field("price", "A price like 65.00.") from exc
    minor = value * (10**exponent)
    if minor != minor.to_integral_value() or minor < 0:
        raise ValidationFailed.field("price", f"At most {exponent} decimals, not negative.")
    return int(minor)


def _price_text(cal: CalendarOut) -> str:
    exponent = minor_unit_exponent(cal.currency)
    return f"{Decimal(cal.price_minor) / (10**exponent):.{exponent}f}"


class CatalogPages(Controller):
    path = "/c/{clinic:str}/staff/catalog"
    include_in_schema = False
    guards = [staff_page_guard]
    exception_handlers = STAFF_EXCEPTION_HANDLERS
    response_headers = RESPONSE_HEADERS

    @get("/", opt={"roles": ADMIN}, name="staff:catalog")
    async def index(self, request: Request[Any, Any, Any]) -> Template:
        return await self._index(request)

    async def _index(
        self, request: Request[Any, Any, Any], status_code: int = 200, error: str | None = None
    ) -> Template:
        tenant = page_tenant(request)
        async with tenant_tx(tenant) as conn:
            services = await catalog.list_services(conn)
            calendars = await catalog.list_calendars(conn)
        groups = [
            {
                "service": s,
                "calendars": [
                    {"cal": c, "price": format_price(c.price_minor, c.currency)}
                    for c in calendars
                    if c.service_id == s.id
                ],
            }
            for s in services
        ]
        return render(
            request,
            "catalog.html",
            status_code=status_code,
            page_title=f"Catalog – {tenant.name}",
            section="catalog",
            groups=groups,
            error=error,
        )

    @post("/services", opt={"roles": ADMIN}, name="staff:catalog-service")
    async def add_service(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        return await self._save_service(request, None)

    @post("/services/{service_id:uuid}", opt={"roles": ADMIN}, name="staff:catalog-service-edit")
    async def edit_service(
        self, request: Request[Any, Any, Any], service_id: FromPath[UUID]
    ) -> Template | Redirect:
        return await self._save_service(request, service_id)

    async def _save_service(
        self, request: Request[Any, Any, Any], service_id: UUID | None
    ) -> Template | Redirect:
        tenant = page_tenant(request)
        form = {k: str(v) for k, v in (await request.form()).items()}
        values = {
            "name": form.get("name", "").strip(),
            "description": form.get("description", "").strip(),
            "default_duration_minutes": form.get("duration", ""),
            "active": form.get("active", "on" if service_id is None else "") == "on",
        }
        try:
            async with tenant_tx(tenant) as conn:
                if service_id is None:
                    await catalog.create_service(
                        conn, msgspec.convert(values, ServiceIn, strict=False)
                    )
                else:
                    await catalog.update_service(
                        conn, service_id, msgspec.convert(values, ServicePatch, strict=False)
                    )
        except msgspec.ValidationError as exc:
            return await self._index(request, 422, f"Check the service: {exc}.")
        except CarebookError as exc:
            if exc.status == 404:
                raise
            return await self._index(request, exc.status, exc.detail)
        return Redirect(f"/c/{tenant.slug}/staff/catalog/", status_code=303)

    @get("/calendars/new", opt={"roles": ADMIN}, name="staff:catalog-calendar-new")
    async def new_calendar(
        self, request: Request[Any, Any, Any], service: FromQuery[UUID | None] = None
    ) -> Template:
        return await self._calendar_page(request, None, {"service_id": str(service or "")})

    @get("/calendars/{calendar_id:uuid}", opt={"roles": ADMIN}, name="staff:catalog-calendar")
    async def calendar(
        self, request: Request[Any, Any, Any], calendar_id: FromPath[UUID]
    ) -> Template:
        tenant = page_tenant(request)
        zone = valid_zone(tenant.timezone)
        async with tenant_tx(tenant) as conn:
            cal = await catalog.get_calendar(conn, calendar_id)
        special: dict[int, list[str]] = {d: [] for d in range(1, 8)}
        for w in cal.special_hours:
            special[w.isodow].append(f"{w.start}-{w.end}")
        values = {
            "service_id": str(cal.service_id),
            "name": cal.name,
            "slug": cal.slug,
            "kind": cal.kind,
            "price": _price_text(cal),
            "currency": cal.currency,
            "duration": str(cal.duration_minutes),
            "interval": str(cal.slot_interval_minutes or ""),
            "notice": str(cal.min_notice_minutes),
            "horizon": str(cal.horizon_days),
            "active_from": cal.active_from.astimezone(zone).date().isoformat()
            if cal.active_from
            else "",
            "active_until": cal.active_until.astimezone(zone).date().isoformat()
            if cal.active_until
            else "",
            "listed": cal.listed,
            "active": cal.active,
            "specialists": [str(s) for s in cal.specialist_ids],
            "forms": [str(f) for f in cal.required_form_ids],
            **{f"special{d}": ", ".join(special[d]) for d in range(1, 8)},
        }
        return await self._calendar_page(request, calendar_id, values)

    async def _calendar_page(
        self,
        request: Request[Any, Any, Any],
        calendar_id: UUID | None,
        values: dict[str, Any],
        status_code: int = 200,
        error: str | None = None,
    ) -> Template:
        tenant = page_tenant(request)
        async with tenant_tx(tenant) as conn:
            services = await catalog.list_services(conn)
            specialists = await list_specialists(conn)
            intake_forms = await form_templates.list_templates(conn, phase="intake")
        shown = {
            "kind": "standard",
            "currency": "EUR",
            "duration": "30",
            "notice": "120",
            "horizon": "60",
            "listed": True,
            "active": True,
            "specialists": [],
            "forms": [],
            **values,
        }
        return render(
            request,
            "catalog_calendar.html",
            status_code=status_code,
            page_title=f"Calendar – {tenant.name}",
            section="catalog",
            calendar_id=calendar_id,
            services=services,
            specialists=specialists,
            intake_forms=intake_forms,
            kinds=KINDS,
            weekdays=WEEKDAYS,
            v=shown,
            error=error,
        )

    @post("/calendars", opt={"roles": ADMIN}, name="staff:catalog-calendar-create")
    async def create_calendar(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        return await self._save_calendar(request, None)

    @post("/calendars/{calendar_id:uuid}", opt={"roles": ADMIN}, name="staff:catalog-calendar-save")
    async def save_calendar(
        self, request: Request[Any, Any, Any], calendar_id: FromPath[UUID]
    ) -> Template | Redirect:
        return await self._save_calendar(request, calendar_id)

    async def _save_calendar(
        self, request: Request[Any, Any, Any], calendar_id: UUID | None
    ) -> Template | Redirect:
        tenant = page_tenant(request)
        raw = await request.form()
        form = {k: str(v) for k, v in raw.items()}
        chosen = [str(v) for v in raw.getall("specialists")] if "specialists" in raw else []
        forms = [str(v) for v in raw.getall("forms")] if "forms" in raw else []
        values: dict[str, Any] = {
            **form,
            "specialists": chosen,
            "forms": forms,
            "listed": form.get("listed") == "on",
            "active": form.get("active") == "on",
        }
        zone = valid_zone(tenant.timezone)
        try:
            currency = form.get("currency", "").strip().upper()
            special = [
                {"isodow": d, "start": s, "end": e}
                for d in range(1, 8)
                for s, e in parse_intervals(form.get(f"special{d}", ""), WEEKDAYS[d - 1])
            ]
            window = {}
            for key in ("active_from", "active_until"):
                text = form.get(key, "")
                window[key] = (
                    datetime.combine(parse_local_date(text, key), time(0), zone) if text else None
                )
            data = {
                "service_id": form.get("service_id", ""),
                "name": form.get("name", "").strip(),
                "slug": form.get("slug", "").strip(),
                "kind": form.get("kind", "standard"),
                "price_minor": _price_minor(form.get("price", ""), currency),
                "currency": currency,
                "duration_minutes": form.get("duration", ""),
                "slot_interval_minutes": form.get("interval") or None,
                "min_notice_minutes": form.get("notice", "120"),
                "horizon_days": form.get("horizon", "60"),
                "special_hours": special,
                "listed": values["listed"],
                "active": values["active"],
                "specialist_ids": chosen,
                "required_form_ids": forms,
                **window,
            }
            async with tenant_tx(tenant) as conn:
                if calendar_id is None:
                    saved = await catalog.create_calendar(
                        conn, msgspec.convert(data, CalendarIn, strict=False)
                    )
                else:
                    saved = await catalog.update_calendar(
                        conn, calendar_id, msgspec.convert(data, CalendarPatch, strict=False)
                    )
        except msgspec.ValidationError as exc:
            return await self._calendar_page(
                request, calendar_id, values, 422, f"Check the calendar: {exc}."
            )
        except CarebookError as exc:
            if exc.status == 404 and calendar_id is not None and exc.code == "calendar_not_found":
                raise
            message = "; ".join(e["message"] for e in exc.errors or []) or exc.detail
            return await self._calendar_page(request, calendar_id, values, exc.status, message)
        return Redirect(f"/c/{tenant.slug}/staff/catalog/calendars/{saved.id}", status_code=303)
