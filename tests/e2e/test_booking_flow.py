"""A patient books in real Chromium: catalog → slot → hold → details → confirmation → .ics."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from icalendar import Calendar
from playwright.async_api import Page, Request, Route, expect

from tests.conftest import Clinic, LiveServer
from tests.e2e.conftest import VIEWPORT_IDS, VIEWPORTS, NewPage
from tests.e2e.pages import (
    bookable_calendar,
    booking_url,
    choose,
    clinic_day,
    fill_details,
    hold,
    local_instant,
    open_booking,
    slot,
)
from web.money import format_price
from web.zones import zone_label

pytestmark = pytest.mark.e2e


async def test_full_booking_flow(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage
) -> None:
    await bookable_calendar(clinic, name="Physiotherapy", slug="physio", price_minor=6500)
    page = await new_page()
    await page.goto(f"{live_server.url}/c/{clinic.slug}")
    await expect(page.locator("[data-testid=clinic-timezone]")).to_have_text(
        "Central European Time — Berlin"
    )
    await expect(page.locator(".calendar-card .price")).to_have_text("€65.00")
    await page.get_by_role("link", name="Choose a time for Physiotherapy").click()
    await expect(page).to_have_url(re.compile(r"/book/physio$"))
    await open_booking(page, page.url)
    assert await page.locator("#tz").input_value() == "Europe/Berlin"

    start = local_instant(clinic_day(clinic, 1), "10:00", "Europe/Berlin")
    held = await hold(page, start)
    assert datetime.fromisoformat(held["start"]) == start
    await expect(page.locator("#details-heading")).to_be_focused()
    await expect(page.locator("#held-slot")).to_contain_text("10:00–10:30")
    countdown = page.locator("#countdown")
    await expect(countdown).to_have_text(re.compile(r"^(10:00|09:[0-5]\d)$"))
    await expect(page.locator("#status")).to_contain_text("held for you for 10 minutes")

    # Inline validation before anything is sent.
    await page.click("#book-button")
    await expect(page.locator("#name-error")).to_have_text("Please enter your name.")
    await expect(page.locator("#name")).to_be_focused()
    await expect(page.locator("#name")).to_have_attribute("aria-invalid", "true")
    await page.fill("#email", "not-an-email")
    await page.click("#book-button")
    await expect(page.locator("#email-error")).to_contain_text("name@example.com")
    await fill_details(page)
    await expect(page.locator("#name-error")).to_be_hidden()

    async with page.expect_response(lambda r: r.url.endswith("/public/bookings")) as info:
        await page.click("#book-button")
    booked = await (await info.value).json()
    assert (await info.value).status == 201
    done = page.locator("#step-done")
    await expect(done).to_be_visible()
    await expect(page.locator("#done-heading")).to_be_focused()
    # Zones by name, written alike on the booking and manage pages (issue 17 item 10).
    berlin = zone_label("Europe/Berlin")
    assert berlin == "Central European Time — Berlin"
    await expect(page.locator("#held-slot")).to_contain_text(f"({berlin})")
    await expect(page.locator("#done-time")).to_have_text(f"10:00–10:30 ({berlin})")
    await expect(page.locator("#done-specialist")).to_have_text("Dr Ada Lovelace")
    await expect(page.locator("#done-price")).to_have_text("€65.00")
    await expect(page.locator("#done-service")).to_have_text("Physiotherapy")
    manage = await page.locator("#manage-link").get_attribute("href")
    assert manage == booked["manage_url"] and "token=" in manage

    ics_href = await page.locator("#ics-link").get_attribute("href")
    assert ics_href is not None
    response = await page.request.get(f"{live_server.url}{ics_href}")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/calendar")
    (event,) = Calendar.from_ical(await response.body()).walk("VEVENT")
    assert event.decoded("DTSTART") == start.astimezone(UTC)
    assert event.decoded("DTEND") == datetime.fromisoformat(booked["end"]).astimezone(UTC)
    assert "Physiotherapy" in str(event["SUMMARY"])

    await page.goto(manage)
    await expect(page.locator("[data-testid=status]")).to_have_text("Booked")
    await expect(page.locator("[data-testid=time]")).to_have_text(f"10:00–10:30 ({berlin})")
    assert page.js_errors == []  # type: ignore[attr-defined]


async def test_server_errors_show_inline_and_retries_reuse_the_key(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage
) -> None:
    await bookable_calendar(clinic, slug="errors")
    page = await new_page()
    await open_booking(page, booking_url(live_server.url, clinic, "errors"))
    await hold(page, local_instant(clinic_day(clinic, 1), "11:00", "Europe/Berlin"))
    await fill_details(page)

    sent: list[Request] = []
    answers = iter(["422", "abort", "real"])

    async def intercept(route: Route, request: Request) -> None:
        sent.append(request)
        answer = next(answers)
        if answer == "422":
            await route.fulfill(
                status=422,
                content_type="application/problem+json",
                body=json.dumps({
                    "status": 422, "code": "validation_failed", "title": "Invalid input",
                    "errors": [{"field": "patient.email", "message": "This address bounced."}],
                }),
            )  # fmt: skip
        elif answer == "abort":
            await route.abort("connectionreset")
        else:
            await route.continue_()

    await page.route("**/public/bookings", intercept)
    await page.click("#book-button")
    await expect(page.locator("#email-error")).to_have_text("This address bounced.")
    await expect(page.locator("#email")).to_be_focused()

    await page.fill("#email", "pat.other@example.test")
    await page.click("#book-button")
    await expect(page.locator("#form-error")).to_contain_text("press Book appointment again")
    await page.click("#book-button")
    await expect(page.locator("#step-done")).to_be_visible()

    keys = [r.headers["idempotency-key"] for r in sent]
    assert len(keys) == 3
    assert keys[0] != keys[1], "changed details are a new submit"
    assert keys[1] == keys[2], "a retry of the same submit reuses its key"
    assert json.loads(sent[2].post_data or "{}")["patient"]["email"] == "pat.other@example.test"


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
async def test_a_lost_hold_keeps_the_details_and_goes_back_to_the_times(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage, viewport: dict[str, int]
) -> None:
    """Issue 17 item 7: expired, or taken while the patient typed: nothing typed is lost."""
    await bookable_calendar(clinic, slug="expiry")
    page = await new_page(viewport=viewport)
    await page.clock.install()
    await open_booking(page, booking_url(live_server.url, clinic, "expiry"))
    day = clinic_day(clinic, 1)
    noon, one, two = (local_instant(day, t, "Europe/Berlin") for t in ("12:00", "13:00", "14:00"))
    await hold(page, noon)
    await fill_details(page)

    # The countdown reaching zero (the page's clock only): the page releases the hold too.
    async with page.expect_response(
        lambda r: "/public/holds/" in r.url and r.request.method == "DELETE"
    ) as released:
        await page.clock.fast_forward("10:01")
    assert (await released.value).status == 204
    await expect(page.locator("#step-slots")).to_be_visible()
    alert = page.locator("#alert")
    await expect(alert).to_contain_text("Your hold has expired")
    await expect(alert).to_contain_text("Your details are kept")
    await expect(alert).to_be_focused()  # where the patient is looking, and read out (alert)
    assert await alert.get_attribute("role") == "alert"
    await expect(slot(page, noon)).to_have_count(1)

    # Another time: the details are all still there.
    await hold(page, one)
    await expect(page.locator("#details-kept")).to_be_visible()
    await expect_details_kept(page)

    # The server saying the time went while the patient typed (409 on submit).
    async def taken(route: Route) -> None:
        await route.fulfill(
            status=409,
            content_type="application/problem+json",
            body=json.dumps({"status": 409, "code": "hold_expired", "title": "Conflict"}),
        )

    await page.route("**/public/bookings", taken)
    async with page.expect_request(lambda r: "/slots?" in r.url):  # the page refetches
        await page.click("#book-button")
    await expect(page.locator("#step-slots")).to_be_visible()
    await expect(alert).to_contain_text("taken while you were typing")
    await expect(alert).to_be_focused()
    await page.unroute("**/public/bookings")

    # Pick yet another time and book without typing anything again.
    await hold(page, two)
    await expect_details_kept(page)
    async with page.expect_request(lambda r: r.url.endswith("/public/bookings")) as sent:
        await page.click("#book-button")
    await expect(page.locator("#step-done")).to_be_visible()
    patient = (await sent.value).post_data_json["patient"]
    assert (patient["name"], patient["email"]) == ("Pat Doe", "pat@example.test")
    errors = page.js_errors  # type: ignore[attr-defined]
    assert [e for e in errors if "status of 409" not in e] == []  # the 409 we sent is logged


async def expect_details_kept(page: Page) -> None:
    await expect(page.locator("#name")).to_have_value("Pat Doe")
    await expect(page.locator("#email")).to_have_value("pat@example.test")
    await expect(page.locator("#phone")).to_have_value("+49 30 1234567")
    await expect(page.locator("#notes")).to_have_value("Left knee hurts when climbing stairs.")


async def test_weeks_filters_and_empty_weeks(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage
) -> None:
    # Bookable from 8 days ahead only, and 12 days ahead at most.
    cal = await bookable_calendar(
        clinic, slug="later", specialists=("Dr Early", "Dr Late"), notice=8 * 24 * 60, horizon=12
    )
    page = await new_page()
    await open_booking(page, booking_url(live_server.url, clinic, "later"))
    await expect(page.locator("[data-testid=no-slots]")).to_be_visible()
    await expect(page.locator("button.slot")).to_have_count(0)
    await expect(page.locator("#prev-week")).to_be_disabled()

    async with page.expect_request(lambda r: "/slots?" in r.url) as sent:
        await page.click("#next-week")
    week2 = clinic_day(clinic, 7).isoformat()
    assert f"start={week2}" in (await sent.value).url
    await expect(page.locator("button.slot").first).to_be_visible()
    await expect(page.locator("[data-testid=no-slots]")).to_be_hidden()
    await expect(page.locator("#prev-week")).to_be_enabled()
    await expect(page.locator("#next-week")).to_be_disabled()  # beyond the 12-day horizon

    late = str(cal["specialist_ids"][1])
    async with page.expect_request(lambda r: f"specialist_id={late}" in r.url):
        await page.select_option("#specialist", label="Dr Late")
    await expect(page.locator("button.slot").first).to_have_attribute("data-specialists", late)
    button = page.locator("button.slot").first
    async with page.expect_request(lambda r: r.url.endswith("/public/holds")) as held:
        await button.click()
    assert (await held.value).post_data_json["specialist_id"] == late
    await expect(page.locator("#held-slot")).to_contain_text("with Dr Late")


async def test_calendar_without_specialists_says_so(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage
) -> None:
    await bookable_calendar(clinic, slug="nobody", specialists=())
    page = await new_page()
    await page.goto(booking_url(live_server.url, clinic, "nobody"))
    await expect(page.locator("[data-testid=no-specialists]")).to_be_visible()
    await expect(page.locator("[data-testid=no-slots]")).to_be_hidden()


async def test_prices_read_the_same_in_python_and_the_browser(
    live_server: LiveServer, new_page: NewPage
) -> None:
    cases = [(6500, "EUR"), (123456, "USD"), (5000, "JPY"), (1500, "BHD"), (8000, "CHF"),
             (5000, "XOF"), (990, "GBP"), (0, "EUR"), (4200, "SEK")]  # fmt: skip
    page = await new_page()
    await page.goto(f"{live_server.url}/static/site.css")
    in_browser = await page.evaluate(
        """async (cases) => {
             const {priceText} = await import("/static/booking/format.js");
             return cases.map(([minor, currency]) => priceText(minor, currency));
           }""",
        cases,
    )
    assert in_browser == [format_price(minor, currency) for minor, currency in cases]


async def test_hold_refusals_are_explained(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage
) -> None:
    await bookable_calendar(clinic, slug="refused")
    page = await new_page()
    await open_booking(page, booking_url(live_server.url, clinic, "refused"))
    start = local_instant(clinic_day(clinic, 1), "15:00", "Europe/Berlin")
    refusals = iter([
        (409, {"status": 409, "code": "slot_unavailable", "title": "Conflict"}, {}),
        (429, {"status": 429, "code": "rate_limited", "title": "Too many"}, {"Retry-After": "7"}),
    ])  # fmt: skip

    async def refuse(route: Route) -> None:
        status, body, headers = next(refusals)
        await route.fulfill(
            status=status, content_type="application/problem+json", headers=headers,
            body=json.dumps(body),
        )  # fmt: skip

    await page.route("**/public/holds", refuse)
    async with page.expect_request(lambda r: "/slots?" in r.url):  # it refetches the times
        await choose(page, start)
    await expect(page.locator("#alert")).to_have_text(
        "Sorry, that time was just taken. Please choose another time."
    )
    await expect(page.locator("#step-details")).to_be_hidden()
    await choose(page, start)
    await expect(page.locator("#alert")).to_contain_text("wait 7 seconds")
    await page.unroute("**/public/holds")
    await hold(page, start)
    await expect(page.locator("#alert")).to_be_hidden()
