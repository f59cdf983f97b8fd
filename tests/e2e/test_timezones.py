"""Times follow the patient's zone: detected from the browser, changeable with the picker."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect

from tests.conftest import Clinic, LiveServer
from tests.e2e.conftest import NewPage
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
