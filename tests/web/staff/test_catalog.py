"""The catalog editor: services and calendars (price, times, specialists) through the forms."""

from __future__ import annotations

import re

from tests.factories import add_specialist
from tests.web.staff.support import add_member, browser, sign_in, staff_url


async def test_admin_adds_a_service_and_a_calendar_that_patients_can_book(client, clinic):
    spec = await add_specialist(clinic.tenant, name="Dr Catalog")
    admin = await add_member(clinic, "admin")
    async with browser(client) as web:
        csrf = await sign_in(web, admin)
        r = await web.post(
            staff_url(clinic, "/catalog/services"),
            data={
                "csrf_token": csrf,
                "name": "Massage",
                "duration": "45",
                "description": "Relaxing",
            },
        )
        assert r.status_code == 303, r.text[:500]
        page = await web.get(staff_url(clinic, "/catalog/"))
        service_id = re.search(r"calendars/new\?service=([0-9a-f-]{36})", page.text).group(1)
        form = {
            "csrf_token": csrf,
            "service_id": service_id,
            "name": "Massage 45",
            "slug": "massage-45",
            "kind": "promotional",
            "price": "65.50",
            "currency": "EUR",
            "duration": "45",
            "interval": "",
            "notice": "0",
            "horizon": "30",
            "specialists": str(spec),
            "listed": "on",
            "active": "on",
            "special1": "",
            "active_from": "",
            "active_until": "",
        }
        r = await web.post(staff_url(clinic, "/catalog/calendars"), data=form)
        assert r.status_code == 303, r.text[:800]
        edit = await web.get(r.headers["location"])
        assert 'value="65.50"' in edit.text and "checked" in edit.text
        public = await client.get(f"{clinic.public}/catalog")
        cal = public.json()["services"][0]["calendars"][0]
        assert (cal["name"], cal["price_minor"], cal["kind"]) == ("Massage 45", 6550, "promotional")
        # Bad input is explained on the page, not a crash.
        r = await web.post(
            staff_url(clinic, "/catalog/calendars"),
            data={**form, "slug": "massage-2", "price": "abc"},
        )
        assert r.status_code == 422 and "price like 65.00" in r.text
        r = await web.post(staff_url(clinic, "/catalog/calendars"), data=form)  # slug taken
        assert r.status_code == 409


async def test_required_forms_are_chosen_on_the_calendar_and_a_booking_gets_them(client, clinic):
    from carebook.tenancy import tenant_tx
    from forms import instances
    from tests.bookings.support import bookable, booking_body, idem, place_hold, slot
    from tests.forms.support import create_form

    setup = await bookable(clinic.tenant)
    intake = await create_form(client, clinic, name="Knee intake")
    after = await create_form(client, clinic, name="Visit report", phase="post_appointment")
    admin = await add_member(clinic, "admin")
    async with browser(client) as web:
        csrf = await sign_in(web, admin)
        page = await web.get(staff_url(clinic, f"/catalog/calendars/{setup.calendar_id}"))
        assert "Knee intake" in page.text and "Visit report" not in page.text  # intake only
        fields = {}
        for tag in re.findall(r"<input [^>]*>", page.text):
            name = re.search(r'name="(\w+)"', tag)
            value = re.search(r'value="([^"]*)"', tag)
            if name and value and name.group(1) not in ("specialists", "forms"):
                fields[name.group(1)] = value.group(1)
        fields.update(
            {
                "csrf_token": csrf,
                "service_id": re.search(r'<option value="([^"]+)" selected', page.text).group(1),
                "kind": "standard",
                "listed": "on",
                "active": "on",
            }
        )
        spec = re.search(r'name="specialists" value="([^"]+)" checked', page.text).group(1)
        target = staff_url(clinic, f"/catalog/calendars/{setup.calendar_id}")
        # Not an intake template: refused by the forms domain, explained on the page.
        r = await web.post(target, data={**fields, "specialists": spec, "forms": after["id"]})
        assert r.status_code == 422 and "form" in r.text.lower(), r.text[:800]
        r = await web.post(target, data={**fields, "specialists": spec, "forms": intake["id"]})
        assert r.status_code == 303, r.text[:800]
        page = await web.get(r.headers["location"])
        assert re.search(rf'name="forms" value="{intake["id"]}" checked', page.text)
    held = await place_hold(client, clinic.public, setup, slot(clinic.tenant, 1, 10))
    r = await client.post(f"{clinic.public}/bookings", json=booking_body(held), headers=idem())
    assert r.status_code == 201, r.text
    appointment = r.json()["appointment_id"]
    async with tenant_tx(clinic.tenant) as conn:
        await instances.generate(conn, appointment, "intake")  # what the booked actor runs
        found = await instances.list_instances(conn, appointment)
    assert [(i.name, i.phase, i.status) for i in found] == [("Knee intake", "intake", "pending")]
