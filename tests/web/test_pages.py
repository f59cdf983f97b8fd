"""The public pages as HTML (in-process): catalog, booking page, errors, manage page, .ics."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from icalendar import Calendar

from tests.conftest import Clinic
from tests.factories import add_calendar, add_specialist
from web.money import format_price


async def book_first_slot(client: httpx.AsyncClient, clinic: Clinic, calendar_id: Any) -> Any:
    """Hold and book the first free slot tomorrow or later through the public API."""
    start = date.today() + timedelta(days=1)
    r = await client.get(
        f"{clinic.public}/calendars/{calendar_id}/slots",
        params={"start": start.isoformat(), "end": (start + timedelta(days=6)).isoformat()},
    )
    assert r.status_code == 200, r.text
    slot = next(s for d in r.json()["days"] for s in d["slots"])
    r = await client.post(
        f"{clinic.public}/holds", json={"calendar_id": str(calendar_id), "start": slot["start"]}
    )
    assert r.status_code == 201, r.text
    hold = r.json()
    r = await client.post(
        f"{clinic.public}/bookings",
        headers={"Idempotency-Key": str(uuid.uuid4())},
        json={
            "hold_id": hold["hold_id"],
            "token": hold["token"],
            "patient": {"name": "Pat Doe", "email": "pat@example.test",
                        "timezone": "America/New_York"},
        },
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()


def is_html(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("text/html"), r.headers
    assert "script-src 'self'" in r.headers["content-security-policy"]
    return r.text


async def test_clinic_page_lists_listed_calendars(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    sid = await add_specialist(clinic.tenant, name="Dr Ada")
    await add_calendar(
        clinic.tenant, [sid], name="First visit", slug="first-visit", price_minor=6500
    )
    await add_calendar(clinic.tenant, [sid], name="Spring offer", slug="spring", kind="promotional")
    await add_calendar(clinic.tenant, [sid], name="Secret", slug="secret", listed=False)
    await add_calendar(clinic.tenant, [sid], name="Closed", slug="closed", active=False)
    html = is_html(await client.get(f"/c/{clinic.slug}"), 200)
    assert clinic.tenant.name in html and "Central European Time — Berlin" in html
    assert "First visit" in html and "€65.00" in html and "30 min" in html
    assert f'href="/c/{clinic.slug}/book/first-visit"' in html
    assert re.search(r"Spring offer\s*<span class=\"badge badge-promotional\">Promotion", html)
    assert "Secret" not in html and "Closed" not in html


async def test_clinic_without_services_says_so(client: httpx.AsyncClient, clinic: Clinic) -> None:
    html = is_html(await client.get(f"/c/{clinic.slug}"), 200)
    assert 'data-testid="no-services"' in html


async def test_unknown_clinic_is_an_html_404(client: httpx.AsyncClient) -> None:
    html = is_html(await client.get("/c/no-such-clinic-here"), 404)
    assert "We could not find this clinic" in html
    html = is_html(await client.get("/c/no-such-clinic-here/book/x"), 404)
    assert 'data-code="clinic_not_found"' in html


async def test_suspended_clinic_is_not_taking_bookings(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    from tenants.service import set_clinic_status

    sid = await add_specialist(clinic.tenant)
    await add_calendar(clinic.tenant, [sid], slug="open")
    await set_clinic_status(clinic.slug, "suspended")
    for path in ("", "/book/open"):
        html = is_html(await client.get(f"/c/{clinic.slug}{path}"), 404)
        assert "This clinic is not taking bookings right now" in html
        assert 'data-code="clinic_unavailable"' in html


async def test_booking_page_and_its_errors(client: httpx.AsyncClient, clinic: Clinic) -> None:
    a = await add_specialist(clinic.tenant, name="Dr A")
    b = await add_specialist(clinic.tenant, name="Dr B")
    await add_calendar(clinic.tenant, [a, b], name="Check-up", slug="check-up")
    await add_calendar(clinic.tenant, [a], name="Hidden", slug="hidden", listed=False)
    await add_calendar(clinic.tenant, [a], name="Old", slug="old", active=False)
    html = is_html(await client.get(f"/c/{clinic.slug}/book/check-up"), 200)
    assert '<select id="tz"' in html and '<label for="tz">' in html
    assert '<select id="specialist"' in html and "Dr A" in html and "Dr B" in html
    assert 'id="booking-config"' in html and "/static/booking/main.js" in html
    # Unlisted calendars are bookable by direct link; a single specialist needs no filter.
    html = is_html(await client.get(f"/c/{clinic.slug}/book/hidden"), 200)
    assert '<select id="specialist"' not in html
    for slug in ("old", "nope"):
        html = is_html(await client.get(f"/c/{clinic.slug}/book/{slug}"), 404)
        assert "This booking page is not available" in html
        assert clinic.tenant.name in html  # the clinic's header stays
        assert f'href="/c/{clinic.slug}"' in html


async def test_static_assets_are_served(client: httpx.AsyncClient) -> None:
    for path in ("/static/site.css", "/static/booking/main.js", "/static/booking/slots.js"):
        r = await client.get(path)
        assert r.status_code == 200, path


async def test_manage_page_and_ics(client: httpx.AsyncClient, clinic: Clinic) -> None:
    sid = await add_specialist(clinic.tenant, name="Dr Ics")
    cal = await add_calendar(clinic.tenant, [sid], name="Physio", price_minor=4550)
    booked = await book_first_slot(client, clinic, cal["id"])
    manage = httpx.URL(booked["manage_url"])
    token = manage.params["token"]
    assert manage.path == f"/c/{clinic.slug}/manage/{booked['appointment_id']}"

    r = await client.get(manage.path, params={"token": token})
    html = is_html(r, 200)
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "Physio" in html and "Dr Ics" in html and "€45.50" in html and "Booked" in html
    # The patient's zone, with the clinic's beside it, by the names people know.
    assert "(Eastern Time — New York)" in html and "(Central European Time — Berlin)" in html
    assert "America/New_York" not in html

    ics_path = f"/c/{clinic.slug}/appointments/{booked['appointment_id']}.ics"
    r = await client.get(ics_path, params={"token": token})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/calendar")
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.startswith(b"BEGIN:VCALENDAR\r\n")
    cal_file = Calendar.from_ical(r.content)
    assert cal_file["VERSION"] == "2.0" and cal_file["PRODID"]
    (event,) = cal_file.walk("VEVENT")
    start = datetime.fromisoformat(booked["start"])
    assert event.decoded("DTSTART") == start.astimezone(UTC)
    assert event.decoded("DTEND") == datetime.fromisoformat(booked["end"]).astimezone(UTC)
    assert str(event["UID"]).startswith(booked["appointment_id"])
    assert str(event["STATUS"]) == "CONFIRMED"
    assert token in str(event["URL"])

    for bad in ({"token": token + "x"}, {}):
        assert is_html(await client.get(manage.path, params=bad), 404)
        r = await client.get(ics_path, params=bad)
        assert r.status_code == 404
    is_html(await client.get(f"/c/{clinic.slug}/manage/not-a-uuid", params={"token": token}), 404)
    is_html(await client.get(f"/c/{clinic.slug}/appointments/{booked['appointment_id']}.txt"), 404)


def test_prices_use_the_currency_minor_unit() -> None:
    assert format_price(5000, "EUR") == "€50.00"
    assert format_price(123456, "USD") == "$1,234.56"
    assert format_price(5000, "JPY") == "¥5,000"
    assert format_price(1500, "BHD") == "BHD\u00a01.500"
    assert format_price(8000, "CHF") == "CHF\u00a080.00"
    assert format_price(0, "EUR") == "Free"


async def test_clinic_links_are_case_insensitive(client: httpx.AsyncClient, clinic: Clinic) -> None:
    """Issue 17 item 10: ``/c/DEMO`` finds ``demo``."""
    shouting = clinic.slug.upper()
    r = await client.get(f"/c/{shouting}/book/x", params={"a": "1"}, follow_redirects=False)
    assert r.status_code == 301
    assert r.headers["location"] == f"/c/{clinic.slug}/book/x?a=1"
    is_html(await client.get(f"/c/{shouting}", follow_redirects=True), 200)


async def test_unrouted_paths_are_html_for_browsers_and_problems_for_apis(
    client: httpx.AsyncClient,
) -> None:
    """Issue 17 item 10: ``/``, ``/c/`` and any unknown path."""
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    for path in ("/", "/c/", "/c", "/nothing/here", "/static/nope.css"):
        html = is_html(await client.get(path, headers=browser), 404)
        assert "Page not found" in html and 'data-code="page_not_found"' in html
    for path, accept in (("/", "application/json"), ("/api/v1/nope", "text/html"),
                         ("/api/v1/nope", "*/*"), ("/c/", "application/problem+json")):  # fmt: skip
        r = await client.get(path, headers={"Accept": accept})
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("application/problem+json"), (path, accept)
        assert r.json()["code"] == "not_found"


def test_time_zone_labels() -> None:
    from web.zones import zone_label, zone_table

    assert zone_label("Europe/Berlin") == "Central European Time — Berlin"
    assert zone_label("America/New_York") == "Eastern Time — New York"
    assert zone_label("Asia/Kolkata") == "India Standard Time — Kolkata"  # no DST
    assert zone_label("America/Argentina/Buenos_Aires") == "Argentina Standard Time — Buenos Aires"
    assert zone_label("UTC") == "Coordinated Universal Time (UTC)"
    assert zone_label("Asia/Calcutta") == "India Standard Time — Kolkata"  # as Chromium says
    table = zone_table()
    names, zones = table["names"], table["zones"]
    assert isinstance(names, list) and isinstance(zones, dict)
    for zone in ("Europe/Berlin", "Pacific/Honolulu", "UTC", "Etc/GMT+5"):
        assert names[zones[zone]].replace("{city}", zone.split("/")[-1]) == zone_label(zone)
