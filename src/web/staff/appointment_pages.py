"""The appointment panel and its actions, reschedule with a live slot picker, and booking
for a caller — on the lifecycle's functions (bookings.lifecycle, bookings.staff_booking)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from bookings import lifecycle
from bookings.appointments import appointment_history, appointment_row
from bookings.lifecycle import Actor
from calendars import slots
from carebook.errors import CarebookError
from carebook.tenancy import Tenant, tenant_tx
from carebook.zones import parse_local_date, valid_zone
from forms import instances as form_instances
from tenants import audit
from web.display import form_view
from web.money import format_price
from web.staff import agenda as agenda_view
from web.staff.access import ALL_ROLES, page_staff, page_tenant, staff_page_guard
from web.staff.pages import client_addr, today
from web.staff.render import RESPONSE_HEADERS, STAFF_EXCEPTION_HANDLERS, render

ACTION_LABELS = {
    "confirm": "Confirm",
    "start": "Start",
    "complete": "Complete",
    "no_show": "No-show",
    "cancel": "Cancel",
}


def _now(request: Request[Any, Any, Any]) -> datetime:
    pinned = getattr(request.app.state, "clock", None)
    return pinned() if callable(pinned) else datetime.now(UTC)


async def slot_days(
    request: Request[Any, Any, Any],
    tenant: Tenant,
    calendar_id: UUID,
    first: date,
    specialist_id: UUID | None,
    zone: str,
) -> list[dict[str, Any]]:
    """Three days of bookable slots of a calendar, for a server-rendered picker."""
    found = await slots.available_slots(
        tenant, calendar_id, first, first + timedelta(days=2), zone, specialist_id, _now(request)
    )
    return [
        {
            "date": d.date,
            "slots": [
                {"start": s.start, "label": s.start[11:16], "specialist": s.specialist_ids[0]}
                for s in d.slots
            ],
        }
        for d in found.days
    ]


class AppointmentPages(Controller):
    path = "/c/{clinic:str}/staff"
    include_in_schema = False
    guards = [staff_page_guard]
    exception_handlers = STAFF_EXCEPTION_HANDLERS
    response_headers = RESPONSE_HEADERS

    @get("/appointments/{appointment_id:uuid}", opt={"roles": ALL_ROLES}, name="staff:appointment")
    async def appointment(
        self, request: Request[Any, Any, Any], appointment_id: FromPath[UUID]
    ) -> Template:
        return await self._panel(request, appointment_id)

    async def _panel(
        self,
        request: Request[Any, Any, Any],
        appointment_id: UUID,
        status_code: int = 200,
        action_error: str | None = None,
    ) -> Template:
        tenant, me = page_tenant(request), page_staff(request)
        async with tenant_tx(tenant) as conn:
            row = await appointment_row(conn, me, appointment_id)
            history = await appointment_history(conn, appointment_id)
            forms = await form_instances.list_instances(conn, appointment_id)
            await audit.record(
                conn,
                me,
                "view",
                "appointment",
                subject_id=row["id"],
                patient_id=row["patient_id"],
                detail="appointment, forms" if forms else "",
                client_addr=client_addr(request),
            )
        zone = valid_zone(tenant.timezone)
        s, e = row["starts_at"].astimezone(zone), row["ends_at"].astimezone(zone)
        actions = [a for a in row["allowed_actions"] if a in ACTION_LABELS]
        return render(
            request,
            "appointment.html",
            status_code=status_code,
            page_title=f"Appointment – {tenant.name}",
            section="agenda",
            appt=row,
            history=history,
            forms=[form_view(f) for f in forms],
            when=f"{s:%A %d %B %Y}, {s:%H:%M}–{e:%H:%M}",
            zone=zone.key,
            status_label=agenda_view.STATUS_LABELS.get(row["status"], row["status"]),
            price=format_price(row["price_minor"], row["currency"].strip())
            if row["price_minor"] is not None and row["currency"]
            else "–",
            agenda_url=f"/c/{tenant.slug}/staff/agenda?day={s.date().isoformat()}",
            actions=actions,
            action_labels=ACTION_LABELS,
            action_error=action_error,
            can_reschedule=row["status"] in ("booked", "upcoming", "confirmed"),
        )

    @post(
        "/appointments/{appointment_id:uuid}/actions",
        opt={"roles": ALL_ROLES},
        name="staff:appointment-action",
    )
    async def act(
        self, request: Request[Any, Any, Any], appointment_id: FromPath[UUID]
    ) -> Template | Redirect:
        tenant, me = page_tenant(request), page_staff(request)
        form = await request.form()
        action = str(form.get("action", ""))
        reason = str(form.get("reason", ""))[:500] or None
        try:
            version = int(str(form.get("version", "")))
            async with tenant_tx(tenant) as conn:
                row = await appointment_row(conn, me, appointment_id)
                await lifecycle.transition_in(
                    conn, appointment_id, action, version, Actor.for_staff(me), reason
                )
                await audit.record(
                    conn,
                    me,
                    "change",
                    "appointment",
                    subject_id=appointment_id,
                    patient_id=row["patient_id"],
                    detail=action,
                    client_addr=client_addr(request),
                )
        except ValueError:
            return await self._panel(request, appointment_id, 422, "Reload the page.")
        except CarebookError as exc:
            if exc.status == 404:
                raise
            return await self._panel(request, appointment_id, exc.status, exc.detail)
        return Redirect(f"/c/{tenant.slug}/staff/appointments/{appointment_id}", status_code=303)

    @get(
        "/appointments/{appointment_id:uuid}/reschedule",
        opt={"roles": ALL_ROLES},
        name="staff:reschedule",
    )
    async def reschedule_page(
        self,
        request: Request[Any, Any, Any],
        appointment_id: FromPath[UUID],
        day: FromQuery[str | None] = None,
        fragment: FromQuery[bool] = False,
    ) -> Template:
        return await self._reschedule(request, appointment_id, day, fragment)

    async def _reschedule(
        self,
        request: Request[Any, Any, Any],
        appointment_id: UUID,
        day: str | None = None,
        fragment: bool = False,
        error: str | None = None,
        status_code: int = 200,
    ) -> Template:
        tenant, me = page_tenant(request), page_staff(request)
        async with tenant_tx(tenant) as conn:
            row = await appointment_row(conn, me, appointment_id)
            if not fragment:  # the page names the patient; the live refresh shows slots only
                await audit.record(
                    conn,
                    me,
                    "view",
                    "appointment",
                    subject_id=row["id"],
                    patient_id=row["patient_id"],
                    detail="reschedule",
                    client_addr=client_addr(request),
                )
        zone = valid_zone(tenant.timezone)
        first = parse_local_date(day, "day") if day else row["starts_at"].astimezone(zone).date()
        first = max(first, today(tenant, request))
        own = row["specialist_id"] if me.role == "specialist" else None
        days = await slot_days(request, tenant, row["calendar_id"], first, own, zone.key)
        ctx = {
            "appt": row,
            "days": days,
            "first": first,
            "zone": zone.key,
            "error": error,
            "prev": (first - timedelta(days=3)).isoformat(),
            "next": (first + timedelta(days=3)).isoformat(),
            "action": f"/c/{tenant.slug}/staff/appointments/{appointment_id}/reschedule",
        }
        if fragment:
            return render(request, "slot_picker.html", **ctx)
        return render(
            request,
            "reschedule.html",
            status_code=status_code,
            page_title=f"Reschedule – {tenant.name}",
            section="agenda",
            **ctx,
        )

    @post(
        "/appointments/{appointment_id:uuid}/reschedule",
        opt={"roles": ALL_ROLES},
        name="staff:reschedule-post",
    )
    async def reschedule(
        self, request: Request[Any, Any, Any], appointment_id: FromPath[UUID]
    ) -> Template | Redirect:
        tenant, me = page_tenant(request), page_staff(request)
        form = await request.form()
        try:
            version = int(str(form.get("version", "")))
            start_text, _, spec_text = str(form.get("slot", "")).partition("|")
            start = datetime.fromisoformat(start_text)
            specialist = UUID(spec_text) if spec_text else None
        except ValueError:
            return await self._reschedule(
                request, appointment_id, error="Choose a slot.", status_code=422
            )
        try:
            async with tenant_tx(tenant) as conn:
                row = await appointment_row(conn, me, appointment_id)
                await lifecycle.reschedule_in(
                    conn, appointment_id, version, start, specialist, Actor.for_staff(me), None
                )
                await audit.record(
                    conn,
                    me,
                    "change",
                    "appointment",
                    subject_id=appointment_id,
                    patient_id=row["patient_id"],
                    detail="reschedule",
                    client_addr=client_addr(request),
                )
        except CarebookError as exc:
            if exc.status == 404:
                raise
            return await self._reschedule(
                request, appointment_id, error=exc.detail, status_code=exc.status
            )
        return Redirect(f"/c/{tenant.slug}/staff/appointments/{appointment_id}", status_code=303)
