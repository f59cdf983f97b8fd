"""Times follow the patient's zone: detected from the browser, changeable with the picker."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect

from carebook.tenancy import tenant_tx
from tests.conftest import Clinic, LiveServer
from tests.e2e.browser import run_axe, serious_violations
from tests.e2e.conftest import VIEWPORT_IDS, VIEWPORTS, NewPage
from tests.e2e.pages import (
    bookable_calendar,
    booking_url,
    clinic_day,
    fill_details,
    hold,
    local_instant,
    open_booking,
    slot,
    slot_time_text,
)
from web.zones import zone_label

pytestmark = pytest.mark.e2e
NEW_YORK = ZoneInfo("America/New_York")


async def test_new_york_patient_of_a_berlin_clinic(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage
) -> None:
    assert clinic.tenant.timezone == "Europe/Berlin"
    await bookable_calendar(clinic, slug="tz")
    page = await new_page(timezone_id="America/New_York")
    await open_booking(page, booking_url(live_server.url, clinic, "tz"))
    await expect(page.locator("#tz")).to_have_value("America/New_York")
    await expect(page.locator("[data-testid=clinic-timezone]")).to_have_text(
        "Central European Time — Berlin"
    )

    day = clinic_day(clinic, 2)
    nine = local_instant(day, "09:00", "Europe/Berlin")
    in_ny = nine.astimezone(NEW_YORK)
    button = slot(page, nine)
    assert await slot_time_text(button) == f"{in_ny:%H:%M}"  # 03:00 (04:00 in DST gaps)
    section = page.locator(f'section.day[data-date="{in_ny.date().isoformat()}"]')
    await expect(section.locator(f'button.slot[data-start="{nine.isoformat()}"]')).to_have_count(0)
    await expect(section.locator("button.slot").first).to_have_text(f"{in_ny:%H:%M}")
    # The last Berlin slot (16:30) is 10:30 in New York, on the same New York date.
    last = local_instant(day, "16:30", "Europe/Berlin")
    await expect(section.locator("button.slot").last).to_have_text(
        f"{last.astimezone(NEW_YORK):%H:%M}"
    )

    # Switch to clinic time: the same instant now reads 09:00, and the API is asked in Berlin.
    async with page.expect_request(lambda r: "tz=Europe%2FBerlin" in r.url):
        await page.select_option("#tz", "Europe/Berlin")
    await expect(button).to_have_text("09:00")
    await expect(
        page.locator(f'section.day[data-date="{day.isoformat()}"] button.slot').first
    ).to_have_text("09:00")

    # Back in New York time, a booking confirms in New York time and saves that zone.
    await page.select_option("#tz", "America/New_York")
    await expect(button).to_have_text(f"{in_ny:%H:%M}")
    await hold(page, nine)
    end = in_ny + timedelta(minutes=30)
    await expect(page.locator("#held-slot")).to_contain_text(f"{in_ny:%H:%M}–{end:%H:%M}")
    await fill_details(page)
    async with page.expect_request(lambda r: r.url.endswith("/public/bookings")) as sent:
        await page.click("#book-button")
    assert (await sent.value).post_data_json["patient"]["timezone"] == "America/New_York"
    await expect(page.locator("#done-time")).to_have_text(
        f"{in_ny:%H:%M}–{end:%H:%M} (Eastern Time — New York)"
    )


async def test_times_follow_the_browser_locale(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage
) -> None:
    await bookable_calendar(clinic, slug="ampm")
    page = await new_page(timezone_id="America/Chicago", locale="en-US")
    await open_booking(page, booking_url(live_server.url, clinic, "ampm"))
    nine = local_instant(clinic_day(clinic, 2), "09:00", "Europe/Berlin")
    chicago = nine.astimezone(ZoneInfo("America/Chicago"))
    expected = f"{chicago:%I:%M %p}".lstrip("0")  # e.g. "2:00 AM"
    await expect(slot(page, nine)).to_have_text(expected)
    await expect(page.locator("#days")).to_have_class(re.compile(r"\bhour12\b"))


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
async def test_zone_names_closures_and_addresses(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage, viewport: dict[str, int]
) -> None:
    """Issue 17 item 10: zones by name on every page, closures with their reason, /c/DEMO,
    and HTML 404 pages for browsers (problem+json for API clients)."""
    await bookable_calendar(clinic, slug="names")
    closed = clinic_day(clinic, 3)
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute(
            "INSERT INTO closures (dates, reason) VALUES (daterange($1, $2), $3)",
            closed, closed + timedelta(days=1), "Christmas holidays",
        )  # fmt: skip
    page = await new_page(timezone_id="America/New_York", viewport=viewport)
    await open_booking(page, booking_url(live_server.url, clinic, "names"))
    new_york, berlin = zone_label("America/New_York"), zone_label("Europe/Berlin")
    assert (new_york, berlin) == ("Eastern Time — New York", "Central European Time — Berlin")
    await expect(page.locator("#tz option:checked")).to_have_text(f"{new_york} (this device)")
    await expect(page.locator("#tz option[value='Europe/Berlin']")).to_have_text(
        f"{berlin} (clinic)"
    )
    labels = await page.locator("#tz option").all_text_contents()
    assert len(labels) > 300
    assert not [t for t in labels if re.search(r"\w/\w|_", t)], "no IANA ids shown"
    assert zone_label("Asia/Kolkata") in labels and zone_label("Europe/London") in labels

    # Berlin's closed day is all of that New York day (Berlin 09-17 is New York's morning);
    # the evening before in New York touches it too, but still has times.
    await page.click(f"#tab-{closed.isoformat()}")
    panel = page.locator(f"#panel-{closed.isoformat()}")
    await expect(panel.locator(".none")).to_have_text("Closed — Christmas holidays")
    await expect(page.locator(f"#tab-{closed.isoformat()}")).to_contain_text("Closed")
    before = (closed - timedelta(days=1)).isoformat()
    await page.click(f"#tab-{before}")
    await expect(page.locator(f"#panel-{before} .closed-note")).to_contain_text(
        "Christmas holidays"
    )
    await expect(page.locator(f"#panel-{before} button.slot").first).to_be_visible()

    # Held, confirmed and managed: the same names.
    nine = local_instant(clinic_day(clinic, 2), "09:00", "Europe/Berlin")
    await hold(page, nine)
    await expect(page.locator("#held-slot")).to_contain_text(f"({new_york})")
    await fill_details(page)
    await page.click("#book-button")
    await expect(page.locator("#done-time")).to_contain_text(f"({new_york})")
    manage = await page.locator("#manage-link").get_attribute("href")
    assert manage
    await page.goto(manage)
    await expect(page.locator("[data-testid=time]")).to_contain_text(f"({new_york})")
    await expect(page.locator("main")).to_contain_text(f"({berlin})")
    await expect(page.locator("[data-testid=clinic-timezone]")).to_have_text(berlin)

    # Addresses typed in capitals find the clinic.
    response = await page.goto(f"{live_server.url}/c/{clinic.slug.upper()}")
    assert response is not None and response.status == 200
    assert page.url == f"{live_server.url}/c/{clinic.slug}"

    # Unknown paths are pages for people, problems for programs.
    for path in ("/", "/c/", "/no/such/page"):
        response = await page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 404, path
        assert response.headers["content-type"].startswith("text/html")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    errors = page.js_errors  # type: ignore[attr-defined]
    assert [e for e in errors if "status of 404" not in e] == []  # but the 404s we asked for
    assert serious_violations(await run_axe(page)) == []
    api = await page.request.get(f"{live_server.url}/", headers={"Accept": "application/json"})
    assert api.status == 404
    assert api.headers["content-type"].startswith("application/problem+json")
