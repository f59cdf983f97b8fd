"""Access audit: every staff page and staff API route that shows a patient's data leaves
exactly one audit row. Enumerated over every GET route, so a new one is covered at once."""

from __future__ import annotations

import re

from litestar.routes import HTTPRoute

from carebook.app import create_app
from carebook.tenancy import tenant_tx
from tests.bookings.support import bookable, slot
from tests.web.staff.support import add_member, browser, sign_in
from tests.web.staff.test_agenda import book

PARAM = re.compile(r"{(\w+):(\w+)}")
STREAMS = ("/staff/events",)


def get_routes() -> list[str]:
    out = []
    for route in create_app().routes:
        if not isinstance(route, HTTPRoute) or "GET" not in route.methods:
            continue
        p = route.path
        staff_page = p.startswith("/c/{clinic:str}/staff")
        staff_api = p.startswith("/api/v1/clinics/{clinic:str}") and "/public" not in p
        if (staff_page or staff_api) and not p.endswith(STREAMS):
            out.append(p)
    return sorted(out)


async def audit_count(clinic) -> int:
    async with tenant_tx(clinic.tenant) as conn:
        return int(await conn.fetchval("SELECT count(*) FROM audit_events"))


async def test_every_route_showing_patient_data_audits_exactly_once(client, clinic):
    setup = await bookable(clinic.tenant)
    start = slot(clinic.tenant, days=1, hour=10)
    booked = await book(
        client, clinic, setup, start, name="Octavia Auditson", email="octavia@x.test"
    )
    async with tenant_tx(clinic.tenant) as conn:
        patient_id = await conn.fetchval(
            "SELECT patient_id FROM appointments WHERE id = $1", booked["appointment_id"]
        )
    admin = await add_member(clinic, "admin")
    values = {
        "clinic": clinic.slug,
        "appointment_id": str(booked["appointment_id"]),
        "patient_id": str(patient_id),
        "calendar_id": str(setup.calendar_id),
        "specialist_id": str(setup.specialist_id),
    }
    queries = {
        "/c/{clinic:str}/staff/agenda": f"?day={start.date()}",
        "/c/{clinic:str}/staff/patients": "?q=Auditson",
        "/c/{clinic:str}/staff/book": f"?find=Auditson&patient={patient_id}",
        "/api/v1/clinics/{clinic:str}/appointments": f"?date={start.date()}",
    }
    showing = []
    async with browser(client) as web:
        await sign_in(web, admin)
        for path in get_routes():
            url = PARAM.sub(
                lambda m: values.get(m.group(1), "00000000-0000-0000-0000-000000000000"), path
            ) + queries.get(path, "")
            before = await audit_count(clinic)
            r = await web.get(url)
            after = await audit_count(clinic)
            if "Octavia Auditson" in r.text or "octavia@x.test" in r.text:
                showing.append(path)
                expected = 2 if path.endswith("/staff/book") else 1  # a search and a record
                assert after - before == expected, (path, after - before)
    assert {
        "/c/{clinic:str}/staff/agenda",
        "/c/{clinic:str}/staff/patients",
        "/c/{clinic:str}/staff/patients/{patient_id:uuid}",
        "/c/{clinic:str}/staff/appointments/{appointment_id:uuid}",
        "/api/v1/clinics/{clinic:str}/appointments",
        "/api/v1/clinics/{clinic:str}/appointments/{appointment_id:uuid}",
    } <= set(showing)
