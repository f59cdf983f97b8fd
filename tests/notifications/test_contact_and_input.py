"""Clinic contact details (settings API → pages, messages, .ics LOCATION) and patient input
quality (E.164 phones, validated e-mails, over-long fields are a 422)."""

from __future__ import annotations

from uuid import UUID

import httpx
from icalendar import Calendar

from carebook.tenancy import tenant_tx
from notifications import service
from tenants.service import find_tenant
from tests.bookings.support import bookable, booking_body, idem, place_hold, slot
from tests.conftest import Clinic
from tests.helpers import problem
from tests.notifications.conftest import Inbox, book_one

CONTACT = {
    "address": "Hauptstraße 1, 10115 Berlin",
    "phone": "030 1234567",
    "email": "Praxis@Example.TEST",
    "website": "https://praxis.example.test",
}


async def test_contact_details_api_pages_messages_and_ics(
    client: httpx.AsyncClient, clinic: Clinic, smtp: Inbox
) -> None:
    r = await client.patch(f"{clinic.api}/settings", json=CONTACT, headers=clinic.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["phone"] == "+49301234567"  # E.164, region from Europe/Berlin
    assert body["email"] == "Praxis@Example.TEST"
    assert body["address"] == CONTACT["address"]
    assert (await client.get(f"{clinic.api}/settings", headers=clinic.headers)).json() == body

    page = await client.get(f"/c/{clinic.slug}/")
    assert CONTACT["address"] in page.text and "+49301234567" in page.text

    tenant = await find_tenant(clinic.slug)
    booked = await book_one(client, tenant)
    await service.on_booked(tenant, booked.appointment_id, None)
    [mail] = smtp.to(booked.patient_email)
    assert CONTACT["address"] in mail.get_body(("plain",)).get_content()
    assert "praxis.example.test" in mail.get_body(("html",)).get_content()
    assert mail["Reply-To"] == "Praxis@Example.TEST"
    [ics] = [p for p in mail.iter_attachments() if p.get_filename() == "appointment.ics"]
    [event] = Calendar.from_ical(ics.get_payload(decode=True)).walk("VEVENT")
    assert CONTACT["address"] in str(event["location"])

    # null clears a field.
    r = await client.patch(f"{clinic.api}/settings", json={"website": None}, headers=clinic.headers)
    assert r.json()["website"] is None and r.json()["address"] == CONTACT["address"]


async def test_settings_are_validated_and_admin_only(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    url = f"{clinic.api}/settings"
    problem(await client.patch(url, json={"phone": "+49 12"}, headers=clinic.headers), 422,
            "invalid_phone")  # fmt: skip
    problem(await client.patch(url, json={"website": "javascript:alert(1)"},
                               headers=clinic.headers), 422)  # fmt: skip
    problem(await client.patch(url, json={"default_language": "xx"}, headers=clinic.headers),
            422, "unsupported_language")  # fmt: skip
    problem(await client.patch(url, json={"reminder_leads_hours": [0]}, headers=clinic.headers),
            422)  # fmt: skip
    problem(await client.patch(url, json={"country": "ZZ"}, headers=clinic.headers), 422)
    problem(await client.patch(url, json={"address": "x"}), 401)
    changes = {"reminder_leads_hours": [2, 24, 2], "country": "at", "default_language": "de-AT"}
    r = await client.patch(url, json=changes, headers=clinic.headers)
    assert r.status_code == 200, r.text
    assert r.json()["reminder_leads_hours"] == [24, 2]
    assert r.json()["country"] == "AT" and r.json()["default_language"] == "de"


async def test_patient_phone_stored_as_e164_and_bad_input_is_422(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant)
    public = clinic.public

    async def attempt(hour: int, **patient: object) -> httpx.Response:
        hold = await place_hold(client, public, setup, slot(clinic.tenant, days=2, hour=hour))
        body = booking_body(hold)
        body["patient"].update(patient)
        return await client.post(f"{public}/bookings", json=body, headers=idem())

    r = await attempt(9, phone="030 1234567")
    assert r.status_code == 201, r.text
    async with tenant_tx(clinic.tenant) as conn:
        phone = await conn.fetchval(
            "SELECT p.phone FROM appointments a JOIN patients p ON p.id = a.patient_id "
            "WHERE a.id = $1",
            UUID(r.json()["appointment_id"]),
        )
    assert phone == "+49301234567"

    body = problem(await attempt(10, phone="+49 12"), 422, "invalid_phone")
    assert body["errors"][0]["field"] == "patient.phone"
    problem(await attempt(11, email="pat@nowhere.invalid"), 422, "invalid_email")
    problem(await attempt(12, name="x" * 201), 422)
    hold = await place_hold(client, public, setup, slot(clinic.tenant, days=2, hour=13))
    problem(await client.post(f"{public}/bookings", json=booking_body(hold, notes="n" * 4001),
                              headers=idem()), 422)  # fmt: skip
