"""Long weeks on phones (issue 17 item 9): a date strip with the chosen day's times, a jump to
the first available time, arrow keys within the strip and within the times (one tab stop
each), and the dates beside the times on a desktop."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.conftest import Clinic, LiveServer
from tests.e2e.conftest import DESKTOP, PHONE, VIEWPORT_IDS, VIEWPORTS, NewPage
from tests.e2e.pages import bookable_calendar, booking_url, clinic_day, open_booking

pytestmark = pytest.mark.e2e


async def focused(page: Page) -> dict[str, Any]:
    info: dict[str, Any] = await page.evaluate(
        """() => { const el = document.activeElement;
                   return {id: el.id, cls: el.className, key: el.dataset.key || null,
                           day: el.dataset.day || el.dataset.date || null,
                           role: el.getAttribute("role")}; }"""
    )
    return info


async def boxes(page: Page, selector: str) -> list[dict[str, float]]:
    found: list[dict[str, float]] = await page.locator(selector).evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return {x: r.x, y: r.y, w: r.width, h: r.height}; })"
    )
    return found


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
async def test_one_day_at_a_time_with_arrow_keys(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage, viewport: dict[str, int]
) -> None:
    # 10 hours of 30-minute slots every day: 140 times in a week, 20 a day.
    await bookable_calendar(clinic, slug="long", hours=("08:00", "18:00"))
    page = await new_page(viewport=viewport)
    await open_booking(page, booking_url(live_server.url, clinic, "long"))

    tabs = page.get_by_role("tab")
    await expect(tabs).to_have_count(7)
    tomorrow = clinic_day(clinic, 1).isoformat()
    await expect(page.locator(f"#tab-{tomorrow}")).to_contain_text("20")
    # Only the chosen day's times are on the page to scroll through, not the whole week's.
    visible = page.locator(".day:not([hidden]) button.slot")
    assert 1 <= await visible.count() <= 20
    await expect(page.locator(".day:not([hidden])")).to_have_count(1)

    # Layout: a strip of seven across on a phone; a column beside the times on a desktop.
    strip = await boxes(page, "[role=tab]")
    times = await boxes(page, ".day:not([hidden]) button.slot")
    if viewport == PHONE:
        assert len({round(b["y"]) for b in strip}) == 1, strip  # one row
        assert max(b["y"] + b["h"] for b in strip) <= times[0]["y"]  # above the times
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
    else:
        assert viewport == DESKTOP
        assert len({round(b["x"]) for b in strip}) == 1, strip  # one column
        assert strip == sorted(strip, key=lambda b: b["y"])
        assert max(b["x"] + b["w"] for b in strip) < min(b["x"] for b in times)  # beside
        assert strip[0]["y"] <= times[0]["y"] + 60  # side by side, not below

    # The strip: one tab stop; arrows choose the day (and show its times).
    await page.click(f"#tab-{tomorrow}")
    await expect(page.locator("[role=tab][tabindex='0']")).to_have_count(1)
    await page.keyboard.press("ArrowRight")
    after = (clinic_day(clinic, 2)).isoformat()
    await expect(page.locator(f"#tab-{after}")).to_be_focused()
    await expect(page.locator(f"#tab-{after}")).to_have_attribute("aria-selected", "true")
    await expect(page.locator(f"#panel-{after}")).to_be_visible()
    await expect(page.locator(f"#panel-{tomorrow}")).to_be_hidden()
    await page.keyboard.press("ArrowLeft")
    await expect(page.locator(f"#tab-{tomorrow}")).to_be_focused()
    await expect(page.locator(f"#panel-{tomorrow}")).to_be_visible()

    # Tab goes from the strip into the times: one stop, on the first time.
    await page.keyboard.press("Tab")
    first = await focused(page)
    assert "slot" in first["cls"] and first["day"] == tomorrow
    keys = await page.locator(f"#panel-{tomorrow} button.slot").evaluate_all(
        "bs => bs.map(b => b.dataset.key)"
    )
    assert first["key"] == keys[0]
    assert await page.locator(f"#panel-{tomorrow} button.slot[tabindex='0']").count() == 1
    columns = await page.evaluate(
        """(day) => { const bs = [...document.querySelectorAll(`#panel-${day} button.slot`)];
                      return bs.filter(b => b.offsetTop === bs[0].offsetTop).length; }""",
        tomorrow,
    )
    await page.keyboard.press("ArrowRight")
    assert (await focused(page))["key"] == keys[1]
    await page.keyboard.press("ArrowDown")
    assert (await focused(page))["key"] == keys[1 + columns]
    await page.keyboard.press("ArrowUp")
    await page.keyboard.press("ArrowLeft")
    assert (await focused(page))["key"] == keys[0]
    await page.keyboard.press("End")
    assert (await focused(page))["key"] == keys[-1]
    await page.keyboard.press("Home")
    assert (await focused(page))["key"] == keys[0]
    await page.keyboard.press("ArrowRight")
    await page.keyboard.press("ArrowRight")
    # The roving stop moved: Tab leaves the grid, Shift+Tab comes back to the same time.
    await page.keyboard.press("Tab")
    assert "slot" not in (await focused(page))["cls"]
    await page.keyboard.press("Shift+Tab")
    assert (await focused(page))["key"] == keys[2]
    # Enter holds the focused time.
    async with page.expect_response(lambda r: r.url.endswith("/public/holds")) as info:
        await page.keyboard.press("Enter")
    assert (await info.value).status == 201
    await expect(page.locator("#details-heading")).to_be_focused()
    assert page.js_errors == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
async def test_jump_to_the_first_available_time(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage, viewport: dict[str, int]
) -> None:
    # Bookable from 9 days ahead: this week and the next one's start have nothing.
    cal = await bookable_calendar(clinic, slug="later", notice=9 * 24 * 60, horizon=30)
    page = await new_page(viewport=viewport)
    await open_booking(page, booking_url(live_server.url, clinic, "later"))
    await expect(page.locator("[data-testid=no-slots]")).to_be_visible()
    await expect(page.locator("[role=tab]").first).to_contain_text("–")

    # Where the first free time really is, by the API.
    first_day = clinic_day(clinic, 9)
    async with httpx.AsyncClient(base_url=live_server.url) as api:
        r = await api.get(
            f"{clinic.public}/calendars/{cal['id']}/slots",
            params={"start": first_day.isoformat(),
                    "end": (first_day + timedelta(days=1)).isoformat()},
        )  # fmt: skip
    first = next(s for d in r.json()["days"] for s in d["slots"])

    await page.click("#first-available")
    button = page.locator(f'button.slot[data-start="{first["start"]}"]')
    await expect(button).to_be_focused()
    await expect(button).to_be_visible()
    day = await button.get_attribute("data-day")
    await expect(page.locator(f"#tab-{day}")).to_have_attribute("aria-selected", "true")
    assert day is not None and day >= clinic_day(clinic, 7).isoformat()  # a later week shown
    await expect(page.locator("#status")).to_contain_text("First available time")
    await expect(page.locator("#no-slots")).to_be_hidden()
    assert page.js_errors == []  # type: ignore[attr-defined]
