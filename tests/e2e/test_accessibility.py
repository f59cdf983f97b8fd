"""Keyboard-only booking, axe-core audits and phone-width screenshots of every page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from playwright.async_api import Page, Route, expect

from carebook.tenancy import tenant_tx
from tests.conftest import Clinic, LiveServer
from tests.e2e.browser import run_axe, serious_violations
from tests.e2e.conftest import PHONE, VIEWPORT_IDS, VIEWPORTS, NewPage
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


async def audit(page: Page, name: str, width: int = PHONE["width"]) -> list[str]:
    """axe-core's serious/critical findings on the page, plus a screenshot."""
    scroll = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{name}: the page scrolls sideways ({scroll}px) on a {width}px screen"
    await screenshot(page, name)
    return [
        f"{name}: {v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in serious_violations(await run_axe(page))
    ]


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
async def test_every_page_passes_axe(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage, viewport: dict[str, int]
) -> None:
    await rename_clinic(clinic, "Riverside Physio & Sports Clinic")
    physio = await add_service(clinic, "Physiotherapy", "Assessment and treatment of injuries.")
    massage = await add_service(clinic, "Massage")
    await bookable_calendar(
        clinic, slug="first-visit", name="First visit", price_minor=6500, service_id=physio,
        specialists=("Dr Ada Lovelace", "Dr Grace Hopper"), hours=("08:00", "13:00"), duration=45,
    )  # fmt: skip
    await bookable_calendar(
        clinic, slug="back-pain", name="Back-pain check", kind="campaign", price_minor=0,
        service_id=physio, specialists=("Dr Lin",), hours=("08:00", "10:00"),
    )  # fmt: skip
    await bookable_calendar(
        clinic, slug="massage", name="Sports massage", kind="promotional", price_minor=3900,
        service_id=massage, specialists=("Sam Rivera",), hours=("14:00", "18:00"), duration=60,
    )  # fmt: skip
    closed = clinic_day(clinic, 4)
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute(
            "INSERT INTO closures (dates, reason) VALUES (daterange($1, $2), 'Staff training')",
            closed, closed + timedelta(days=1),
        )  # fmt: skip
    page = await new_page(viewport=viewport)
    suffix = "" if viewport == PHONE else "-desktop"
    problems: list[str] = []

    async def check(name: str) -> None:
        problems.extend(await audit(page, name + suffix, viewport["width"]))

    await page.goto(f"{live_server.url}/c/{clinic.slug}")
    await check("1-clinic")

    await open_booking(page, booking_url(live_server.url, clinic, "first-visit"))
    await check("2-choose-a-time")

    start = local_instant(clinic_day(clinic, 1), "09:30", "Europe/Berlin")
    await hold(page, start)
    await page.fill("#email", "not an email")
    await page.click("#book-button")
    await expect(page.locator("#email-error")).to_be_visible()
    await check("3-details-with-errors")

    # The time is lost while the patient types: back to the times, details kept.
    await fill_details(page)

    async def taken(route: Route) -> None:
        await route.fulfill(
            status=409, content_type="application/problem+json",
            body='{"status": 409, "code": "hold_expired", "title": "Conflict"}',
        )  # fmt: skip

    await page.route("**/public/bookings", taken)
    await page.click("#book-button")
    await expect(page.locator("#alert")).to_be_focused()
    await page.unroute("**/public/bookings")
    await page.click(f"#tab-{closed.isoformat()}")
    await expect(page.locator(f"#panel-{closed.isoformat()}")).to_contain_text("Staff training")
    await check("8-time-lost-closed-day")

    await hold(page, local_instant(clinic_day(clinic, 1), "10:15", "Europe/Berlin"))
    await expect(page.locator("#details-kept")).to_be_visible()
    await page.click("#book-button")
    await expect(page.locator("#step-done")).to_be_visible()
    await check("4-confirmation")

    manage = await page.locator("#manage-link").get_attribute("href")
    assert manage
    await page.goto(manage)
    await check("5-manage")

    response = await page.goto(f"{live_server.url}/c/{clinic.slug}/book/no-such-page")
    assert response is not None and response.status == 404
    await check("6-not-found")

    response = await page.goto(f"{live_server.url}/c/no-such-clinic")
    assert response is not None and response.status == 404
    await check("7-unknown-clinic")

    response = await page.goto(f"{live_server.url}/")
    assert response is not None and response.status == 404
    await check("9-no-page-here")
    assert problems == []
