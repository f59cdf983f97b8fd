"""Keyboard-only booking, axe-core audits and phone-width screenshots of every page."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.conftest import Clinic, LiveServer
from tests.e2e.browser import run_axe, serious_violations
from tests.e2e.conftest import NewPage
from tests.e2e.pages import (
    add_service,
    bookable_calendar,
    booking_url,
    clinic_day,
    fill_details,
    hold,
    local_instant,
    open_booking,
    rename_clinic,
    screenshot,
)

pytestmark = pytest.mark.e2e


async def focused(page: Page) -> dict[str, Any]:
    info: dict[str, Any] = await page.evaluate(
        """() => { const el = document.activeElement; const style = getComputedStyle(el);
                   return {id: el.id, tag: el.tagName, cls: el.className,
                           text: (el.textContent || "").trim().slice(0, 40),
                           outline: style.outlineStyle, outlineWidth: style.outlineWidth}; }"""
    )
    return info


async def tab_until(page: Page, matches: Any, limit: int = 40) -> list[dict[str, Any]]:
    """Press Tab until the focused element matches; return the path taken."""
    path = []
    for _ in range(limit):
        await page.keyboard.press("Tab")
        info = await focused(page)
        path.append(info)
        if matches(info):
            return path
    raise AssertionError(f"never reached the target by Tab: {path}")


async def test_keyboard_only_booking(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage
) -> None:
    await bookable_calendar(clinic, slug="keys", specialists=("Dr Key", "Dr Board"))
    page = await new_page()
    await open_booking(page, booking_url(live_server.url, clinic, "keys"))

    path = await tab_until(page, lambda f: "slot" in f["cls"])
    ids = [f["id"] for f in path]
    # A logical order: skip link, clinic, controls, week navigation, then the times.
    assert ids.index("tz") < ids.index("specialist") < ids.index("next-week") < len(ids) - 1
    assert path[0]["text"] == "Skip to main content"
    assert path[-1]["outline"] != "none" and path[-1]["outlineWidth"] != "0px"
    chosen = path[-1]["text"]

    async with page.expect_response(lambda r: r.url.endswith("/public/holds")) as info:
        await page.keyboard.press("Enter")
    assert (await info.value).status == 201
    await expect(page.locator("#details-heading")).to_be_focused()
    await expect(page.locator("#held-slot")).to_contain_text(chosen)

    await tab_until(page, lambda f: f["id"] == "name", limit=3)
    await page.keyboard.type("Kim Keyboard")
    await page.keyboard.press("Tab")
    await page.keyboard.type("kim@example.test")
    await page.keyboard.press("Tab")
    await page.keyboard.type("+44 20 7946 0000")
    await tab_until(page, lambda f: f["id"] == "book-button", limit=3)
    await page.keyboard.press("Space")
    await expect(page.locator("#step-done")).to_be_visible()
    await expect(page.locator("#done-heading")).to_be_focused()
    await expect(page.locator("#done-time")).to_contain_text(chosen)
    assert page.js_errors == []  # type: ignore[attr-defined]


async def audit(page: Page, name: str) -> list[str]:
    """axe-core's serious/critical findings on the page, plus a phone-width screenshot."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"{name}: the page scrolls sideways ({width}px) on a 375px screen"
    await screenshot(page, name)
    return [
        f"{name}: {v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in serious_violations(await run_axe(page))
    ]


async def test_every_page_passes_axe_on_a_phone(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage
) -> None:
    await rename_clinic(clinic, "Riverside Physio & Sports Clinic")
    physio = await add_service(clinic, "Physiotherapy", "Assessment and treatment of injuries.")
    massage = await add_service(clinic, "Massage")
    await bookable_calendar(
        clinic, slug="first-visit", name="First visit", price_minor=6500, service_id=physio,
        specialists=("Dr Ada Lovelace", "Dr Grace Hopper"), hours=("09:00", "12:00"), duration=45,
    )  # fmt: skip
    await bookable_calendar(
        clinic, slug="back-pain", name="Back-pain check", kind="campaign", price_minor=0,
        service_id=physio, specialists=("Dr Lin",), hours=("08:00", "10:00"),
    )  # fmt: skip
    await bookable_calendar(
        clinic, slug="massage", name="Sports massage", kind="promotional", price_minor=3900,
        service_id=massage, specialists=("Sam Rivera",), hours=("14:00", "18:00"), duration=60,
    )  # fmt: skip
    page = await new_page()
    problems: list[str] = []

    await page.goto(f"{live_server.url}/c/{clinic.slug}")
    problems += await audit(page, "1-clinic")

    await open_booking(page, booking_url(live_server.url, clinic, "first-visit"))
    problems += await audit(page, "2-choose-a-time")

    await hold(page, local_instant(clinic_day(clinic, 1), "09:45", "Europe/Berlin"))
    await page.fill("#email", "not an email")
    await page.click("#book-button")
    await expect(page.locator("#email-error")).to_be_visible()
    problems += await audit(page, "3-details-with-errors")

    await fill_details(page)
    await page.click("#book-button")
    await expect(page.locator("#step-done")).to_be_visible()
    problems += await audit(page, "4-confirmation")

    manage = await page.locator("#manage-link").get_attribute("href")
    assert manage
    await page.goto(manage)
    problems += await audit(page, "5-manage")

    response = await page.goto(f"{live_server.url}/c/{clinic.slug}/book/no-such-page")
    assert response is not None and response.status == 404
    problems += await audit(page, "6-not-found")

    response = await page.goto(f"{live_server.url}/c/no-such-clinic")
    assert response is not None and response.status == 404
    problems += await audit(page, "7-unknown-clinic")
    assert problems == []
