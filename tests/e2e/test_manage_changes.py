"""The patient changes their appointment from the manage page (issue 11), in Chromium:
reschedule with the live slot picker (another browser sees it move), cancel with a reason."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import expect

from tests.conftest import Clinic, LiveServer
from tests.e2e.browser import run_axe, serious_violations
from tests.e2e.conftest import DESKTOP, VIEWPORT_IDS, VIEWPORTS, NewPage
from tests.e2e.pages import (
    bookable_calendar,
    booking_url,
    choose,
    clinic_day,
    local_instant,
    open_booking,
    screenshot,
    slot,
)

pytestmark = pytest.mark.e2e


async def _booked(server: LiveServer, clinic: Clinic, cal: dict, start) -> dict:  # type: ignore[no-untyped-def, type-arg]
    async with httpx.AsyncClient(base_url=server.url) as api:
        r = await api.post(
            f"{clinic.public}/holds",
            json={"calendar_id": str(cal["id"]), "start": start.isoformat()},
        )
        assert r.status_code == 201, r.text
        hold = r.json()
        r = await api.post(
            f"{clinic.public}/bookings",
            json={"hold_id": hold["hold_id"], "token": hold["token"],
                  "patient": {"name": "Pat Doe", "email": "pat@example.test",
                              "timezone": clinic.tenant.timezone}},
            headers={"Idempotency-Key": f"e2e-{start.timestamp()}"},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        return dict(r.json())


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
async def test_patient_reschedules_with_the_live_picker(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage, viewport: dict[str, int]
) -> None:
    cal = await bookable_calendar(clinic, slug="move")
    zone = clinic.tenant.timezone
    old = local_instant(clinic_day(clinic, 3), "10:00", zone)
    new = local_instant(clinic_day(clinic, 3), "14:00", zone)
    booked = await _booked(live_server, clinic, cal, old)
    manage = booked["manage_url"].replace("http://127.0.0.1:8000", live_server.url)

    other = await new_page(viewport=DESKTOP)
    await open_booking(other, booking_url(live_server.url, clinic, "move"))
    await expect(slot(other, old)).to_have_count(0)  # booked: not offered

    page = await new_page(viewport=viewport)
    await page.goto(manage)
    await page.get_by_test_id("reschedule-link").click()
    await expect(page.locator("#days")).to_have_attribute("aria-busy", "false")
    await choose(page, new)
    await expect(page.get_by_test_id("new-time")).to_contain_text("14:00")
    await screenshot(page, f"manage-reschedule-{'phone' if viewport['width'] < 800 else 'desktop'}")
    assert serious_violations(await run_axe(page)) == []
    page.js_errors.clear()  # type: ignore[attr-defined] - axe's own injection, refused by CSP
    await page.get_by_test_id("confirm-move").click()
    await expect(page.get_by_test_id("change-message")).to_contain_text("moved")
    await expect(page.get_by_test_id("time")).to_contain_text("14:00")
    # The other browser sees the old time come back and the new one go, live.
    await expect(slot(other, old)).to_have_count(1)
    await expect(slot(other, new)).to_have_count(0)
    assert page.js_errors == []  # type: ignore[attr-defined]


async def test_patient_cancels_from_the_manage_page(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage
) -> None:
    cal = await bookable_calendar(clinic, slug="cancel")
    start = local_instant(clinic_day(clinic, 4), "11:00", clinic.tenant.timezone)
    booked = await _booked(live_server, clinic, cal, start)
    page = await new_page()
    await page.goto(booked["manage_url"].replace("http://127.0.0.1:8000", live_server.url))
    await page.locator("summary", has_text="Cancel this appointment").click()
    await page.get_by_label("I feel better").check()
    await page.fill("#cancel-detail", "Thank you")
    await screenshot(page, "manage-cancel")
    assert serious_violations(await run_axe(page)) == []
    await page.get_by_test_id("confirm-cancel").click()
    await expect(page.get_by_test_id("change-message")).to_contain_text("cancelled")
    await expect(page.get_by_test_id("status")).to_contain_text("ancel")
    await expect(page.get_by_test_id("cancel-form")).to_have_count(0)
