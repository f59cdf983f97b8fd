"""Two patients at once: what one holds or books disappears from the other's page, live.

Browser 1 talks to one app process and browser 2 to another, so every update also crosses
processes through PostgreSQL (outbox + NOTIFY), as in production behind a load balancer.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import expect

from carebook.tenancy import tenant_tx
from tests.conftest import Clinic, LiveServer
from tests.e2e.conftest import NewPage
from tests.e2e.pages import (
    bookable_calendar,
    booking_url,
    clinic_day,
    hold,
    local_instant,
    open_booking,
    slot,
)

pytestmark = pytest.mark.e2e
LIVE = 2_000  # ms: the page must reflect another patient's hold within 2 s


async def expire_now(clinic: Clinic, hold_id: str) -> None:
    """Let a hold's time run out now (instead of waiting the clinic's 10 minutes)."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute(
            "UPDATE appointments SET hold_expires_at = $2 WHERE id = $1", uuid.UUID(hold_id), past
        )
        await conn.execute(
            "UPDATE public.hold_expiries SET expires_at = $2 WHERE appointment_id = $1",
            uuid.UUID(hold_id),
            past,
        )


async def test_holds_and_bookings_show_up_live_in_another_browser(
    live_server: LiveServer, live_server_b: LiveServer, clinic: Clinic, new_page: NewPage
) -> None:
    cal = await bookable_calendar(clinic, slug="live")
    one = await new_page()
    two = await new_page()
    await open_booking(one, booking_url(live_server.url, clinic, "live"))
    await open_booking(two, booking_url(live_server_b.url, clinic, "live"))
    day = clinic_day(clinic, 1)
    x, y, z = (local_instant(day, t, "Europe/Berlin") for t in ("09:30", "10:30", "14:00"))
    for moment in (x, y, z):
        await expect(slot(two, moment)).to_have_count(1)

    # Browser 1 holds x: it vanishes from browser 2.
    await hold(one, x)
    await expect(slot(two, x)).to_have_count(0, timeout=LIVE)

    # Browser 1 changes its mind and picks y: x comes back, y goes.
    await one.click("#change-slot")
    await expect(slot(two, x)).to_have_count(1, timeout=LIVE)
    held_y = await hold(one, y)
    await expect(slot(two, y)).to_have_count(0, timeout=LIVE)
    await expect(slot(two, x)).to_have_count(1)

    # The hold on y expires (the sweeper releases it): y comes back in browser 2.
    await expire_now(clinic, held_y["hold_id"])
    await expect(slot(two, y)).to_have_count(1, timeout=LIVE + 1_000)

    # Someone books z through the API: it vanishes from both browsers.
    await one.click("#change-slot")
    await expect(slot(one, z)).to_have_count(1)
    async with httpx.AsyncClient(base_url=live_server.url) as api:
        r = await api.post(
            f"{clinic.public}/holds", json={"calendar_id": str(cal["id"]), "start": z.isoformat()}
        )
        assert r.status_code == 201, r.text
        h = r.json()
        r = await api.post(
            f"{clinic.public}/bookings",
            headers={"Idempotency-Key": str(uuid.uuid4())},
            json={"hold_id": h["hold_id"], "token": h["token"],
                  "patient": {"name": "Api Patient", "email": "api@example.test",
                              "timezone": "Europe/Berlin"}},
        )  # fmt: skip
        assert r.status_code == 201, r.text
    await expect(slot(one, z)).to_have_count(0, timeout=LIVE)
    await expect(slot(two, z)).to_have_count(0, timeout=LIVE)
    # Nothing else was disturbed.
    await expect(slot(two, x)).to_have_count(1)
    await expect(slot(two, y)).to_have_count(1)
    assert one.js_errors == [] and two.js_errors == []  # type: ignore[attr-defined]


async def test_a_slot_stays_while_another_specialist_is_free(
    live_server: LiveServer, clinic: Clinic, new_page: NewPage
) -> None:
    await bookable_calendar(clinic, slug="pair", specialists=("Dr One", "Dr Two"))
    one = await new_page()
    two = await new_page()
    url = booking_url(live_server.url, clinic, "pair")
    await open_booking(one, url)
    await open_booking(two, url)
    x = local_instant(clinic_day(clinic, 1), "13:00", "Europe/Berlin")
    first = await hold(one, x)
    # One of two specialists is still free at x: browser 2 keeps the slot, with one left.
    button = slot(two, x)
    await expect(button).to_have_attribute("data-specialists", re.compile(r"^\S+$"), timeout=LIVE)
    second = await hold(two, x)
    assert second["specialist_id"] != first["specialist_id"]
    await expect(slot(one, x)).to_have_count(0, timeout=LIVE)  # now nobody is free at x
    # Browser 1 lets its specialist go: x is back, with exactly that specialist.
    await one.click("#change-slot")
    await expect(slot(one, x)).to_have_attribute(
        "data-specialists", first["specialist_id"], timeout=LIVE
    )
