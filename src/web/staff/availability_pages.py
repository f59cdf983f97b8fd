"""Availability editor: weekly hours (several intervals a day), buffer, time zone, date
overrides on a month view, and clinic closures — through calendars.service, which checks
the data and publishes ``availability.changed`` so open booking pages update at once.

Specialists edit their own availability; admins anyone's and the clinic's closures.
"""

from __future__ import annotations

import calendar as month_calendar
import re
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from calendars import service
from calendars.schemas import (
    ClosureIn,
    OverrideIn,
    SpecialistPatch,
    TimeInterval,
    WeeklyInterval,
)
from carebook.errors import CarebookError, NotFound, ValidationFailed
from carebook.tenancy import tenant_tx
from carebook.zones import parse_local_date, valid_zone
from tenants.staff import StaffPrincipal
from web.staff.access import ADMIN, page_staff, page_tenant, staff_page_guard
from web.staff.pages import today
from web.staff.render import RESPONSE_HEADERS, STAFF_EXCEPTION_HANDLERS, render

EDITORS = ("admin", "specialist")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_INTERVAL = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$")


def parse_intervals(text: str, field: str) -> list[tuple[str, str]]:
    """``"09:00-12:00, 13:00-17:00"`` → pairs; empty text is no hours."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = _INTERVAL.match(part)
        if not m:
            raise ValidationFailed.field(
                field, f"'{part}' is not a time range like 09:00-12:00.", code="invalid_interval"
            )
        out.append((m.group(1).zfill(5), m.group(2).zfill(5)))
    return out


async def _editable(conn: asyncpg.Connection, me: StaffPrincipal) -> list[asyncpg.Record]:
    """The specialists ``me`` may edit: all (admins) or their own."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT id, name, timezone, buffer_minutes FROM specialists "
        "WHERE ($1::uuid IS NULL OR staff_user = $1) ORDER BY name, id",
        None if me.is_admin else me.id,
    )
    return rows


class AvailabilityPages(Controller):
    path = "/c/{clinic:str}/staff"
    include_in_schema = False
    guards = [staff_page_guard]
    exception_handlers = STAFF_EXCEPTION_HANDLERS
    response_headers = RESPONSE_HEADERS

    @get("/availability", opt={"roles": EDITORS}, name="staff:availability")
    async def availability(
        self,
        request: Request[Any, Any, Any],
        specialist: FromQuery[UUID | None] = None,
        month: FromQuery[str | None] = None,
    ) -> Template:
        return await self._page(request, specialist, month)

    async def _page(
        self,
        request: Request[Any, Any, Any],
        specialist: UUID | None,
        month: str | None = None,
        status_code: int = 200,
        error: str | None = None,
        saved: str | None = None,
    ) -> Template:
        tenant, me = page_tenant(request), page_staff(request)
        this_day = today(tenant, request)
        first = parse_local_date(f"{month}-01", "month") if month else this_day.replace(day=1)
        async with tenant_tx(tenant) as conn:
            editable = await _editable(conn, me)
            chosen = next((r for r in editable if r["id"] == specialist), None)
            if specialist is not None and chosen is None:
                raise NotFound(
                    "There is no such specialist here for you.", code="specialist_not_found"
                )
            chosen = chosen or (editable[0] if editable else None)
            weekly: dict[int, list[str]] = {d: [] for d in range(1, 8)}
            overrides = []
            if chosen is not None:
                for w in await service.weekly_schedule(conn, chosen["id"]):
                    weekly[w.isodow].append(f"{w.start}-{w.end}")
                overrides = await service.list_overrides(conn, chosen["id"], first)
            closures = await service.list_closures(conn, first)
        last = first.replace(day=month_calendar.monthrange(first.year, first.month)[1])
        weeks = []
        for week in month_calendar.Calendar().monthdatescalendar(first.year, first.month):
            cells = []
            for d in week:
                mark = None
                for o in overrides:
                    if o.start_date <= d <= o.end_date:
                        mark = (
                            ("off", f"Day off ({o.reason})")
                            if o.kind == "unavailable"
                            else (
                                "custom",
                                "Hours " + ", ".join(f"{i.start}-{i.end}" for i in o.intervals),
                            )
                        )
                for c in closures:
                    if c.start_date <= d <= c.end_date:
                        mark = ("closed", f"Clinic closed{': ' + c.reason if c.reason else ''}")
                cells.append(
                    {
                        "date": d,
                        "in_month": d.month == first.month,
                        "mark": mark,
                        "today": d == this_day,
                    }
                )
            weeks.append(cells)
        prev_month = (first - timedelta(days=1)).replace(day=1)
        next_month = last + timedelta(days=1)
        return render(
            request,
            "availability.html",
            status_code=status_code,
            page_title=f"Availability – {tenant.name}",
            section="availability",
            editable=editable,
            chosen=chosen,
            weekly=[(d, WEEKDAYS[d - 1], ", ".join(weekly[d])) for d in range(1, 8)],
            overrides=[o for o in overrides if o.end_date >= this_day],
            closures=closures,
            weeks=weeks,
            month_title=f"{first:%B %Y}",
            prev_month=f"{prev_month:%Y-%m}",
            next_month=f"{next_month:%Y-%m}",
            month=f"{first:%Y-%m}",
            error=error,
            saved=saved,
            can_close=me.is_admin,
        )

    @post(
        "/availability/{specialist_id:uuid}/weekly",
        opt={"roles": EDITORS},
        name="staff:availability-weekly",
    )
    async def save_weekly(
        self, request: Request[Any, Any, Any], specialist_id: FromPath[UUID]
    ) -> Template:
        tenant, me = page_tenant(request), page_staff(request)
        form = await request.form()
        try:
            intervals = [
                WeeklyInterval(isodow=d, start=s, end=e)
                for d in range(1, 8)
                for s, e in parse_intervals(str(form.get(f"day{d}", "")), WEEKDAYS[d - 1])
            ]
            buffer = int(str(form.get("buffer_minutes", "0")) or 0)
            zone = valid_zone(str(form.get("timezone", "")).strip()).key
            async with tenant_tx(tenant) as conn:
                await service.ensure_can_edit(conn, me, specialist_id)
                await service.replace_weekly_schedule(conn, specialist_id, intervals)
                await service.update_specialist(
                    conn, specialist_id, SpecialistPatch(timezone=zone, buffer_minutes=buffer)
                )
        except ValueError:
            return await self._page(
                request, specialist_id, None, 422, "The buffer is a number of minutes."
            )
        except CarebookError as exc:
            if exc.status in (403, 404):
                raise
            return await self._page(request, specialist_id, None, exc.status, _explain(exc))
        return await self._page(request, specialist_id, saved="Weekly hours saved.")

    @post(
        "/availability/{specialist_id:uuid}/overrides",
        opt={"roles": EDITORS},
        name="staff:availability-override",
    )
    async def add_override(
        self, request: Request[Any, Any, Any], specialist_id: FromPath[UUID]
    ) -> Template:
        tenant, me = page_tenant(request), page_staff(request)
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            start = parse_local_date(form.get("start_date", ""), "start_date")
            end = parse_local_date(form["end_date"], "end_date") if form.get("end_date") else None
            kind = "unavailable" if form.get("kind") != "custom_hours" else "custom_hours"
            reason = form.get("reason") if form.get("reason") in ("holiday", "sick") else "other"
            hours = parse_intervals(form.get("hours", ""), "hours")
            data = OverrideIn(
                start_date=start,
                end_date=end,
                kind=kind,  # type: ignore[arg-type]
                reason=reason if kind == "unavailable" else None,  # type: ignore[arg-type]
                intervals=[TimeInterval(s, e) for s, e in hours] if kind == "custom_hours" else [],
            )
            async with tenant_tx(tenant) as conn:
                await service.ensure_can_edit(conn, me, specialist_id)
                await service.create_override(conn, specialist_id, data)
        except CarebookError as exc:
            if exc.status in (403, 404):
                raise
            return await self._page(request, specialist_id, None, exc.status, _explain(exc))
        return await self._page(request, specialist_id, f"{start:%Y-%m}", saved="Date added.")

    @post(
        "/availability/{specialist_id:uuid}/overrides/{override_id:uuid}/delete",
        opt={"roles": EDITORS},
        name="staff:availability-override-delete",
    )
    async def delete_override(
        self,
        request: Request[Any, Any, Any],
        specialist_id: FromPath[UUID],
        override_id: FromPath[UUID],
    ) -> Template:
        tenant, me = page_tenant(request), page_staff(request)
        async with tenant_tx(tenant) as conn:
            await service.ensure_can_edit(conn, me, specialist_id)
            await service.delete_override(conn, specialist_id, override_id)
        return await self._page(request, specialist_id, saved="Date removed.")

    @post("/closures", opt={"roles": ADMIN}, name="staff:closure")
    async def add_closure(self, request: Request[Any, Any, Any]) -> Template:
        tenant = page_tenant(request)
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            start = parse_local_date(form.get("start_date", ""), "start_date")
            end = parse_local_date(form["end_date"], "end_date") if form.get("end_date") else None
            async with tenant_tx(tenant) as conn:
                await service.create_closure(
                    conn,
                    ClosureIn(start_date=start, end_date=end, reason=form.get("reason", "")[:500]),
                )
        except CarebookError as exc:
            return await self._page(request, None, None, exc.status, _explain(exc))
        return await self._page(request, None, f"{start:%Y-%m}", saved="Closure added.")

    @post("/closures/{closure_id:uuid}/delete", opt={"roles": ADMIN}, name="staff:closure-delete")
    async def delete_closure(
        self, request: Request[Any, Any, Any], closure_id: FromPath[UUID]
    ) -> Template:
        async with tenant_tx(page_tenant(request)) as conn:
            await service.delete_closure(conn, closure_id)
        return await self._page(request, None, saved="Closure removed.")


def _explain(exc: CarebookError) -> str:
    errors = exc.errors or []
    if errors:
        return "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors)
    return exc.detail or exc.title
