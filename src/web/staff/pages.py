"""Staff pages: agenda, appointment panel, patients (with the access audit) and team."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from carebook.errors import CarebookError, NotFound
from carebook.ratelimit import client_address
from carebook.tenancy import Tenant, tenant_tx
from carebook.zones import parse_local_date, valid_zone
from forms import instances as form_instances
from notifications import message_log
from tenants import audit, password_links
from tenants import staff as staff_store
from web.display import form_view
from web.staff import agenda as agenda_view
from web.staff.access import ADMIN, ALL_ROLES, FRONT_DESK, page_staff, page_tenant, staff_page_guard
from web.staff.render import RESPONSE_HEADERS, STAFF_EXCEPTION_HANDLERS, render

MESSAGE_KINDS = {
    "booked": "Booking confirmation",
    "cancelled": "Cancellation",
    "rescheduled": "New time",
    "reminder": "Reminder",
    "confirmed": "Confirmed",
    "upcoming": "Upcoming",
}


def _message_kind(event: str) -> str:
    kind = event.split(":", 1)[0]  # "reminder:24h:<start>", "rescheduled:<start>"
    return MESSAGE_KINDS.get(kind, kind.replace("_", " ").capitalize())


def today(tenant: Tenant, request: Request[Any, Any, Any]) -> date:
    pinned = getattr(request.app.state, "clock", None)
    now = pinned() if callable(pinned) else datetime.now(UTC)
    return now.astimezone(valid_zone(tenant.timezone)).date()


def client_addr(request: Request[Any, Any, Any]) -> str:
    return client_address(request)


class StaffPages(Controller):
    path = "/c/{clinic:str}/staff"
    include_in_schema = False
    guards = [staff_page_guard]
    exception_handlers = STAFF_EXCEPTION_HANDLERS
    response_headers = RESPONSE_HEADERS

    @get("/agenda", opt={"roles": ALL_ROLES}, name="staff:agenda")
    async def agenda(
        self,
        request: Request[Any, Any, Any],
        view: FromQuery[str] = "day",
        day: FromQuery[str | None] = None,
        tz: FromQuery[str | None] = None,
        fragment: FromQuery[bool] = False,
    ) -> Template:
        tenant, me = page_tenant(request), page_staff(request)
        zone = valid_zone(tz or tenant.timezone, "tz")
        this_day = today(tenant, request)
        first = parse_local_date(day, "day") if day else this_day
        view = "week" if view == "week" else "day"
        if view == "week":
            first -= timedelta(days=first.weekday())
        span = 7 if view == "week" else 1
        async with tenant_tx(tenant) as conn:
            data = await agenda_view.load(conn, me, first, span, zone)
            await audit.record(
                conn,
                me,
                "view",
                "agenda",
                detail=f"{view} {first.isoformat()}",
                client_addr=client_addr(request),
            )
        step = timedelta(days=span)
        ctx = {
            **agenda_view.context(data),
            "view": view,
            "first": first,
            "today": this_day,
            "prev": (first - step).isoformat(),
            "next": (first + step).isoformat(),
            "tz": zone.key,
            "clinic_tz": tenant.timezone,
            "now_ms": int(datetime.now(UTC).timestamp() * 1000),
        }
        title = f"{'Week of ' if view == 'week' else ''}{first:%A %d %B %Y}"
        if fragment:
            return render(request, "agenda_grid.html", **ctx)
        return render(
            request,
            "agenda.html",
            page_title=f"Agenda – {tenant.name}",
            section="agenda",
            wide=True,
            title=title,
            **ctx,
        )

    @get("/patients", opt={"roles": FRONT_DESK}, name="staff:patients")
    async def patients(
        self, request: Request[Any, Any, Any], q: FromQuery[str | None] = None
    ) -> Template:
        tenant, me = page_tenant(request), page_staff(request)
        rows: list[asyncpg.Record] = []
        query = (q or "").strip()[:200]
        if query:
            like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            async with tenant_tx(tenant) as conn:
                rows = await conn.fetch(
                    "SELECT id, name, email, phone FROM patients WHERE name ILIKE $1 "
                    "OR email ILIKE $1 OR phone ILIKE $1 ORDER BY name, id LIMIT 50",
                    like,
                )
                await audit.record(
                    conn,
                    me,
                    "view",
                    "patient_search",
                    detail=f"{len(rows)} results",
                    client_addr=client_addr(request),
                )
        return render(
            request,
            "patients.html",
            page_title=f"Patients – {tenant.name}",
            section="patients",
            q=query,
            rows=rows,
        )

    @get("/patients/{patient_id:uuid}", opt={"roles": FRONT_DESK}, name="staff:patient")
    async def patient(
        self, request: Request[Any, Any, Any], patient_id: FromPath[UUID]
    ) -> Template:
        tenant, me = page_tenant(request), page_staff(request)
        async with tenant_tx(tenant) as conn:
            row = await conn.fetchrow(
                "SELECT id, name, email, phone, timezone, created_at FROM patients WHERE id = $1",
                patient_id,
            )
            if row is None:
                raise NotFound("There is no such patient.", code="patient_not_found")
            appts = await conn.fetch(
                """SELECT a.id, a.status, a.starts_at, c.name AS calendar_name,
                          s.name AS specialist_name
                   FROM appointments a JOIN calendars c ON c.id = a.calendar_id
                   JOIN specialists s ON s.id = a.specialist_id
                   WHERE a.patient_id = $1 AND a.status NOT IN ('held', 'released', 'expired')
                   ORDER BY a.starts_at DESC LIMIT 200""",
                patient_id,
            )
            forms = await form_instances.patient_instances(conn, patient_id)
            messages = await message_log.patient_messages(conn, patient_id)
            await audit.record(
                conn,
                me,
                "view",
                "patient",
                subject_id=patient_id,
                patient_id=patient_id,
                detail="record, forms, messages",
                client_addr=client_addr(request),
            )
            log = await audit.patient_log(conn, patient_id) if me.is_admin else None
        zone = valid_zone(tenant.timezone)
        items = [
            {
                **dict(a),
                "when": a["starts_at"].astimezone(zone).strftime("%d %b %Y %H:%M"),
                "status_label": agenda_view.STATUS_LABELS.get(a["status"], a["status"]),
            }
            for a in appts
        ]
        log_items = [
            {
                "at": e.at.astimezone(zone).strftime("%d %b %Y %H:%M:%S"),
                "who": e.staff_name,
                "role": e.staff_role,
                "action": e.action,
                "subject": e.subject,
                "addr": e.client_addr or "",
            }
            for e in log or []
        ]
        when = {a["id"]: item["when"] for a, item in zip(appts, items, strict=True)}
        form_items = [form_view(f, when.get(f.appointment_id, "")) for f in forms]
        message_items = [
            {
                "at": m.created_at.astimezone(zone).strftime("%d %b %Y %H:%M"),
                "what": m.subject or _message_kind(m.event),
                "channel": "SMS" if m.channel == "sms" else "E-mail",
                "to": m.recipient,
                "status": m.status,
                "appointment_id": m.appointment_id,
                "when": when.get(m.appointment_id, ""),
            }
            for m in messages
        ]
        return render(
            request,
            "patient.html",
            page_title=f"Patient – {tenant.name}",
            section="patients",
            patient=row,
            appointments=items,
            forms=form_items,
            messages=message_items,
            access_log=log_items if log is not None else None,
            zone=zone.key,
        )

    @get("/team", opt={"roles": ADMIN}, name="staff:team")
    async def team(self, request: Request[Any, Any, Any]) -> Template:
        return await self._team_page(request)

    async def _team_page(
        self, request: Request[Any, Any, Any], status_code: int = 200, **extra: Any
    ) -> Template:
        tenant = page_tenant(request)
        async with tenant_tx(tenant) as conn:
            members = await conn.fetch(
                "SELECT id, email, name, role, active, password_hash IS NOT NULL AS has_password "
                "FROM staff_users ORDER BY name, email"
            )
        ctx = {"error": None, "invited": None, "invite_url": None, **extra}
        return render(
            request,
            "team.html",
            status_code=status_code,
            page_title=f"Team – {tenant.name}",
            section="team",
            members=members,
            **ctx,
        )

    @post("/team/invite", opt={"roles": ADMIN}, name="staff:team-invite")
    async def invite(self, request: Request[Any, Any, Any]) -> Template:
        tenant = page_tenant(request)
        form = await request.form()
        name, email = str(form.get("name", "")).strip(), str(form.get("email", "")).strip()
        role = str(form.get("role", ""))
        if not name or len(name) > 200 or "@" not in email[1:] or len(email) > 320:
            return await self._team_page(request, 422, error="Give a name and an e-mail address.")
        if role not in staff_store.ROLES:
            return await self._team_page(request, 422, error="Choose a role.")
        try:
            async with tenant_tx(tenant) as conn:
                staff_id = await staff_store.create_staff_user(
                    conn, email=email, name=name, role=role
                )
                url = await password_links.issue_link(conn, tenant.slug, staff_id, "invite")
        except CarebookError as exc:
            return await self._team_page(request, exc.status, error=exc.detail)
        return await self._team_page(request, 201, invited=email, invite_url=url)

    @post("/team/{staff_id:uuid}/reset", opt={"roles": ADMIN}, name="staff:team-reset")
    async def resend(self, request: Request[Any, Any, Any], staff_id: FromPath[UUID]) -> Template:
        tenant = page_tenant(request)
        async with tenant_tx(tenant) as conn:
            email = await conn.fetchval("SELECT email FROM staff_users WHERE id = $1", staff_id)
            if email is None:
                raise NotFound("No such staff member.", code="staff_not_found")
            url = await password_links.issue_link(conn, tenant.slug, staff_id, "invite")
        return await self._team_page(request, invited=email, invite_url=url)
