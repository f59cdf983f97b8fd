"""Booking for a caller (a receptionist on the phone): pick a slot (live), find the caller
among patients or enter a new one, book — through bookings.staff_booking."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from bookings import staff_booking
from bookings.schemas import StaffBookingIn
from carebook.errors import CarebookError
from carebook.tenancy import tenant_tx
from carebook.urls import public_base_url
from carebook.zones import parse_local_date, valid_zone
from tenants import audit
from web.staff.access import FRONT_DESK, page_staff, page_tenant, staff_page_guard
from web.staff.appointment_pages import slot_days
from web.staff.pages import client_addr, today
from web.staff.render import RESPONSE_HEADERS, STAFF_EXCEPTION_HANDLERS, render


class CallerBookingPages(Controller):
    path = "/c/{clinic:str}/staff"
    include_in_schema = False
    guards = [staff_page_guard]
    exception_handlers = STAFF_EXCEPTION_HANDLERS
    response_headers = RESPONSE_HEADERS

    @get("/book", opt={"roles": FRONT_DESK}, name="staff:book")
    async def book_page(
        self,
        request: Request[Any, Any, Any],
        calendar: FromQuery[UUID | None] = None,
        day: FromQuery[str | None] = None,
        patient: FromQuery[UUID | None] = None,
        find: FromQuery[str | None] = None,
        fragment: FromQuery[bool] = False,
    ) -> Template:
        return await self._book(request, calendar, day, patient, find, fragment)

    async def _book(
        self,
        request: Request[Any, Any, Any],
        calendar: UUID | None,
        day: str | None,
        patient: UUID | None,
        find: str | None,
        fragment: bool = False,
        status_code: int = 200,
        error: str | None = None,
        values: dict[str, str] | None = None,
    ) -> Template:
        tenant, me = page_tenant(request), page_staff(request)
        zone = valid_zone(tenant.timezone)
        first = max(
            parse_local_date(day, "day") if day else today(tenant, request), today(tenant, request)
        )
        prefill = dict(values or {})
        matches: list[asyncpg.Record] = []
        async with tenant_tx(tenant) as conn:
            calendars = await conn.fetch(
                "SELECT c.id, c.name, v.name AS service FROM calendars c "
                "JOIN services v ON v.id = c.service_id WHERE c.active ORDER BY v.name, c.name"
            )
            if patient is not None:
                p = await conn.fetchrow(
                    "SELECT id, name, email, phone, timezone FROM patients WHERE id = $1", patient
                )
                if p is not None:
                    prefill.update(
                        name=p["name"],
                        email=p["email"],
                        phone=p["phone"] or "",
                        timezone=p["timezone"],
                    )
                    await audit.record(
                        conn,
                        me,
                        "view",
                        "patient",
                        subject_id=p["id"],
                        patient_id=p["id"],
                        detail="book for a caller",
                        client_addr=client_addr(request),
                    )
            if find and find.strip():
                like = "%" + find.strip()[:200].replace("\\", "\\\\").replace("%", "\\%") + "%"
                matches = await conn.fetch(
                    "SELECT id, name, email FROM patients WHERE name ILIKE $1 OR email ILIKE $1 "
                    "OR phone ILIKE $1 ORDER BY name LIMIT 10",
                    like,
                )
                await audit.record(
                    conn,
                    me,
                    "view",
                    "patient_search",
                    detail=f"{len(matches)} results",
                    client_addr=client_addr(request),
                )
        chosen = calendar or (calendars[0]["id"] if calendars else None)
        days = (await slot_days(request, tenant, chosen, first, None, zone.key)) if chosen else []
        ctx = {
            "calendars": calendars,
            "chosen": chosen,
            "days": days,
            "first": first,
            "zone": zone.key,
            "prev": (first - timedelta(days=3)).isoformat(),
            "next": (first + timedelta(days=3)).isoformat(),
            "matches": matches,
            "find": find or "",
            "patient_id": patient,
            "error": error,
            "v": {
                "name": "",
                "email": "",
                "phone": "",
                "timezone": tenant.timezone,
                "notes": "",
                **prefill,
            },
            "idem": str(uuid.uuid4()),
            "action": f"/c/{tenant.slug}/staff/book",
        }
        if fragment:
            return render(request, "slot_picker.html", **ctx)
        return render(
            request,
            "book.html",
            status_code=status_code,
            page_title=f"Book for a caller – {tenant.name}",
            section="book",
            **ctx,
        )

    @post("/book", opt={"roles": FRONT_DESK}, name="staff:book-post")
    async def book(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        tenant, me = page_tenant(request), page_staff(request)
        form = {k: str(v) for k, v in (await request.form()).items()}
        start_text, _, spec_text = form.get("slot", "").partition("|")
        calendar_text = form.get("calendar_id", "")
        try:
            calendar_id = UUID(calendar_text)
        except ValueError:
            calendar_id = None
        values = {k: form.get(k, "") for k in ("name", "email", "phone", "timezone", "notes")}
        try:
            data = msgspec.convert(
                {
                    "calendar_id": calendar_text,
                    "start": start_text,
                    "specialist_id": spec_text or None,
                    "patient": {
                        "name": values["name"].strip(),
                        "email": values["email"].strip(),
                        "timezone": values["timezone"] or tenant.timezone,
                        "phone": values["phone"].strip() or None,
                    },
                    "notes": values["notes"].strip() or None,
                },
                StaffBookingIn,
            )
            valid_zone(data.patient.timezone)
            booked = await staff_booking.book_for_caller(
                tenant, me, data, form.get("idem"), public_base_url(request)
            )
        except (msgspec.ValidationError, CarebookError) as exc:
            message = exc.detail if isinstance(exc, CarebookError) else _field_message(exc)
            status = exc.status if isinstance(exc, CarebookError) else 422
            return await self._book(
                request,
                calendar_id,
                None,
                None,
                None,
                status_code=status,
                error=message,
                values=values,
            )
        appointment_id = UUID(str(booked["appointment_id"]))
        async with tenant_tx(tenant) as conn:
            patient_id = await conn.fetchval(
                "SELECT patient_id FROM appointments WHERE id = $1", appointment_id
            )
            await audit.record(
                conn,
                me,
                "change",
                "appointment",
                subject_id=appointment_id,
                patient_id=patient_id,
                detail="booked for a caller",
                client_addr=client_addr(request),
            )
        return Redirect(f"/c/{tenant.slug}/staff/appointments/{appointment_id}", status_code=303)


def _field_message(exc: msgspec.ValidationError) -> str:
    text = str(exc)
    if "start" in text or "calendar_id" in text:
        return "Choose a slot."
    if "email" in text:
        return "Give the caller's e-mail address."
    if "name" in text:
        return "Give the caller's name."
    if "phone" in text:
        return "The phone number may hold digits, spaces and + ( ) . / - only."
    return "Check the caller's details."
