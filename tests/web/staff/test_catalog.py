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
