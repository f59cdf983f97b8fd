"""What the browser tests do on the booking page, named (a small page-object layer)."""

from __future__ import annotations

import os
import shutil
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.async_api import Locator, Page, expect

from carebook.tenancy import platform_tx, tenant_tx
from tests.conftest import ROOT, Clinic
from tests.factories import add_calendar, add_specialist

ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
DOCS = ROOT / "docs" / "screenshots"


async def bookable_calendar(
    clinic: Clinic,
    *,
    specialists: tuple[str, ...] = ("Dr Ada Lovelace",),
    hours: tuple[str, str] = ("09:00", "17:00"),
    **calendar: Any,
) -> dict[str, Any]:
    """Specialists working ``hours`` every day (clinic zone) and one calendar with them."""
    weekly = {d: [hours] for d in range(1, 8)}
    ids = [await add_specialist(clinic.tenant, name=n, weekly=weekly) for n in specialists]
    cal = await add_calendar(clinic.tenant, ids, **calendar)
    return {**cal, "specialist_ids": ids}


async def add_service(clinic: Clinic, name: str, description: str = "") -> Any:
    async with tenant_tx(clinic.tenant) as conn:
        return await conn.fetchval(
            "INSERT INTO services (name, description, default_duration_minutes) "
            "VALUES ($1, $2, 30) RETURNING id",
            name,
            description,
        )


async def rename_clinic(clinic: Clinic, name: str) -> None:
    """Give the clinic a presentable name (for screenshots)."""
    async with platform_tx() as conn:
        await conn.execute("UPDATE tenants SET name = $1 WHERE id = $2", name, clinic.tenant.id)


def booking_url(server_url: str, clinic: Clinic, slug: str) -> str:
    return f"{server_url}/c/{clinic.slug}/book/{slug}"


def local_instant(day: date, hhmm: str, zone: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), ZoneInfo(zone))


def key_of(moment: datetime) -> str:
    """The slot button's ``data-key``: epoch milliseconds of its start."""
    return str(int(moment.timestamp() * 1000))


def clinic_day(clinic: Clinic, days_ahead: int) -> date:
    return datetime.now(ZoneInfo(clinic.tenant.timezone)).date() + timedelta(days=days_ahead)


async def open_booking(page: Page, url: str) -> None:
    """Load the booking page and wait for its slots and its live stream."""
    await page.goto(url)
    await wait_for_slots(page)
    # Generous: on a loaded shared machine the stream can take a few seconds to open.
    await expect(page.locator("body")).to_have_attribute("data-live", "live", timeout=15_000)


async def wait_for_slots(page: Page) -> None:
    await expect(page.locator("#days")).to_have_attribute("aria-busy", "false")


def slot(page: Page, moment: datetime) -> Locator:
    return page.locator(f'button.slot[data-key="{key_of(moment)}"]')


async def show_day_of(page: Page, moment: datetime) -> None:
    """Open the date-strip tab of the day the slot at ``moment`` is on (its times show)."""
    day = await slot(page, moment).get_attribute("data-day")
    tab = page.locator(f"#tab-{day}")
    if await tab.get_attribute("aria-selected") != "true":
        await tab.click()
    await expect(slot(page, moment)).to_be_visible()


async def choose(page: Page, moment: datetime) -> None:
    """Tap the time at ``moment`` (after opening its day)."""
    await show_day_of(page, moment)
    await slot(page, moment).click()


async def slot_time_text(button: Locator) -> str:
    """The visible time of a slot button (without its visually hidden date)."""
    text: str = await button.evaluate("b => b.firstChild.textContent")
    return text


async def hold(page: Page, moment: datetime) -> dict[str, Any]:
    """Click the slot at ``moment``; return the API's hold."""
    await show_day_of(page, moment)
    async with page.expect_response(lambda r: r.url.endswith("/public/holds")) as info:
        await slot(page, moment).click()
    response = await info.value
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    await expect(page.locator("#step-details")).to_be_visible()
    return body


async def fill_details(page: Page, name: str = "Pat Doe", email: str = "pat@example.test") -> None:
    await page.fill("#name", name)
    await page.fill("#email", email)
    await page.fill("#phone", "+49 30 1234567")
    await page.fill("#notes", "Left knee hurts when climbing stairs.")


async def screenshot(page: Page, name: str) -> Path:
    """A phone-width screenshot in test-artifacts/ (docs/ too: CAREBOOK_UPDATE_SCREENSHOTS=1)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    if os.environ.get("CAREBOOK_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS / path.name)
    return path
