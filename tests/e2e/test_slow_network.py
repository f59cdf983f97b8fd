"""Feedback on a slow or broken network (issue 17 item 8), on a phone and a desktop.

Week navigation shows the new week loading at once and never leaves the old week's buttons;
a failed load offers Try again; a tapped time says it is being held; a lost live connection
says "reconnecting…" until it is back.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import Route, expect

from tests.conftest import Clinic, LiveServer
from tests.e2e.conftest import VIEWPORT_IDS, VIEWPORTS, NewPage
from tests.e2e.pages import (
    bookable_calendar,
    booking_url,
    clinic_day,
    local_instant,
    open_booking,
    show_day_of,
    slot,
)

pytestmark = pytest.mark.e2e
SLOTS = re.compile(r"/slots\?")


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
async def test_week_navigation_on_a_slow_and_a_broken_network(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage, viewport: dict[str, int]
) -> None:
    await bookable_calendar(clinic, slug="slow")
    page = await new_page(viewport=viewport)
    await open_booking(page, booking_url(live_server.url, clinic, "slow"))
    await expect(page.locator("button.slot").first).to_be_visible()

    gate = asyncio.Event()

    async def slow(route: Route) -> None:
        await gate.wait()
        await route.continue_()

    await page.route(SLOTS, slow)
    await page.click("#next-week")
    days = page.locator("#days")
    # At once: the new week's days, loading; none of the old week's times remain to be tapped.
    await expect(days).to_have_attribute("aria-busy", "true")
    await expect(page.locator("button.slot")).to_have_count(0)
    loading = days.locator(".day:not([hidden]) .loading")
    await expect(loading).to_be_visible()
    await expect(loading).to_have_text("Loading free times…")
    week2 = clinic_day(clinic, 7).isoformat()
    await expect(page.locator(f"#tab-{week2}")).to_be_visible()
    await expect(page.locator("#next-week")).to_be_enabled()  # navigation is never dead
    gate.set()
    await expect(days).to_have_attribute("aria-busy", "false")
    await expect(page.locator("button.slot").first).to_be_visible()
    await page.unroute(SLOTS)

    # A failed load says so where the times would be, and Try again brings them.
    await page.route(SLOTS, lambda route: route.abort("internetdisconnected"))
    await page.click("#prev-week")
    await expect(days.locator(".day:not([hidden]) .load-error")).to_contain_text(
        "could not load the free times"
    )
    await expect(page.locator("button.slot")).to_have_count(0)
    await expect(days).to_have_attribute("aria-busy", "false")
    await page.unroute(SLOTS)
    await days.get_by_role("button", name="Try again").click()
    await expect(page.locator("button.slot").first).to_be_visible()
    await expect(days.locator(".load-error")).to_have_count(0)


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
async def test_a_tapped_time_says_it_is_being_held(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage, viewport: dict[str, int]
) -> None:
    await bookable_calendar(clinic, slug="tap")
    page = await new_page(viewport=viewport)
    await open_booking(page, booking_url(live_server.url, clinic, "tap"))
    start = local_instant(clinic_day(clinic, 1), "10:00", "Europe/Berlin")
    await show_day_of(page, start)

    gate = asyncio.Event()
    sent: list[str] = []

    async def slow(route: Route) -> None:
        sent.append(route.request.url)
        await gate.wait()
        await route.continue_()

    await page.route("**/public/holds", slow)
    button = slot(page, start)
    await button.click()
    await expect(button).to_have_class(re.compile(r"\bpending\b"))
    await expect(button).to_contain_text("Holding…")
    await expect(button).to_have_attribute("aria-disabled", "true")
    await expect(page.locator("#status")).to_contain_text("Holding")
    await button.click(force=True)  # a second tap while waiting sends nothing more
    assert len(sent) == 1
    gate.set()
    await expect(page.locator("#step-details")).to_be_visible()
    assert len(sent) == 1


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
async def test_a_lost_live_connection_says_reconnecting(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage, viewport: dict[str, int]
) -> None:
    await bookable_calendar(clinic, slug="wire")
    page = await new_page(viewport=viewport)
    attempts: list[str] = []

    # The first stream ends at once and the next attempts fail (a proxy restarting: 502).
    async def flaky(route: Route) -> None:
        attempts.append(route.request.url)
        if len(attempts) == 1:
            await route.fulfill(status=200, content_type="text/event-stream", body="retry: 200\n\n")
        else:
            await route.fulfill(status=502, body="Bad gateway")

    await page.route("**/events", flaky)
    await page.goto(booking_url(live_server.url, clinic, "wire"))
    status = page.locator("#live-status")
    await expect(status).to_be_visible()
    await expect(status).to_contain_text("reconnecting…")
    await expect(status).to_have_attribute("role", "status")
    await expect(page.locator("body")).to_have_attribute("data-live", "reconnecting")
    await expect(page.locator("button.slot").first).to_be_visible()  # the times still work
    # It keeps trying although EventSource gives up on an HTTP error by itself.
    # (Two more attempts after the notice: EventSource's own retry, then at least one of ours.)
    for _ in range(2):
        async with page.expect_request("**/events", timeout=10_000):
            pass

    # The server is back: the page reconnects by itself, hides the notice and refetches.
    async with page.expect_request(SLOTS, timeout=20_000):
        await page.unroute("**/events")
        await expect(page.locator("body")).to_have_attribute("data-live", "live", timeout=20_000)
    await expect(status).to_be_hidden()
