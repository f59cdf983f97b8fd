"""Access audit: every staff page and staff API route that shows a patient's data leaves
exactly one audit row. Enumerated over every GET route, so a new one is covered at once."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from litestar.routes import HTTPRoute

from carebook.app import create_app
from carebook.tenancy import tenant_tx
from forms import instances
from forms.instances import Filler
from notifications import service as notify
from tests.bookings.support import bookable, slot
from tests.forms.support import create_form, require_forms
from tests.web.staff.support import add_member, browser, sign_in
from tests.web.staff.test_agenda import book

PARAM = re.compile(r"{(\w+):(\w+)}")
STREAMS = ("/staff/events",)
SECRET_ANSWER = "Octavia: the left knee, since 2019"  # nothing HTML escapes
MARKS = ("Octavia Auditson", "octavia@x.test", SECRET_ANSWER)
ANSWERED = {"key": "story", "type": "long_text", "label": "What brings you here?"}


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


async def answered_and_notified(client, clinic, hour: int, **patient: str):
    """A booking whose intake form holds SECRET_ANSWER and whose messages are in the outbox.

    Returns (setup, start, appointment id, patient id)."""
    setup = await bookable(clinic.tenant)
    form = await create_form(client, clinic, name="Audit intake", fields=[ANSWERED])
    assert (await require_forms(client, clinic, setup, [form["id"]])).status_code == 200
    start = slot(clinic.tenant, days=1, hour=hour)
    booked = await book(client, clinic, setup, start, **patient)
    appointment_id = booked["appointment_id"]
    async with tenant_tx(clinic.tenant) as conn:
        patient_id = await conn.fetchval(
            "SELECT patient_id FROM appointments WHERE id = $1", appointment_id
        )
        await instances.generate(conn, appointment_id, "intake")
        [instance] = await instances.list_instances(conn, appointment_id)
        await instances.save_answers(
            conn, appointment_id, instance.id, {"story": SECRET_ANSWER},
            Filler("patient"), datetime.now(UTC),
        )  # fmt: skip
    # Her messages (to the outbox: no SMTP here) name her: they are patient data too.
    await notify.on_booked(clinic.tenant, appointment_id, None)
    return setup, start, appointment_id, patient_id


async def test_every_route_showing_patient_data_audits_exactly_once(client, clinic):
    setup, start, appointment_id, patient_id = await answered_and_notified(
        client, clinic, 10, name="Octavia Auditson", email="octavia@x.test"
    )
    admin = await add_member(clinic, "admin")
    values = {
        "clinic": clinic.slug,
        "appointment_id": str(appointment_id),
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
            if any(
                mark in r.text for mark in ("Octavia Auditson", "octavia@x.test", SECRET_ANSWER)
            ):
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
        "/api/v1/clinics/{clinic:str}/appointments/{appointment_id:uuid}/forms",
        "/api/v1/clinics/{clinic:str}/notifications",
        "/api/v1/clinics/{clinic:str}/outbox",
    } <= set(showing)


async def test_the_patient_record_shows_her_forms_and_messages(client, clinic):
    """The record page (enumerated above) shows answers and messages, with one audit row."""
    *_, patient_id = await answered_and_notified(client, clinic, 11)
    admin = await add_member(clinic, "admin")
    async with browser(client) as web:
        await sign_in(web, admin)
        before = await audit_count(clinic)
        page = await web.get(f"/c/{clinic.slug}/staff/patients/{patient_id}")
        assert await audit_count(clinic) - before == 1
    assert SECRET_ANSWER in page.text and 'data-testid="patient-messages"' in page.text
    async with tenant_tx(clinic.tenant) as conn:
        row = await conn.fetchrow("SELECT * FROM audit_events ORDER BY id DESC LIMIT 1")
    assert (row["subject"], row["patient_id"]) == ("patient", patient_id)
    assert SECRET_ANSWER not in row["detail"]
