"""Holds, bookings and availability edits made through one process reach another's streams."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx

from carebook.events.outbox import (
    AVAILABILITY_CHANGED,
    PUBLIC_DATA_KEYS,
    SLOT_BOOKED,
    SLOT_HELD,
    SLOT_RELEASED,
)
from carebook.tenancy import tenant_tx
from tests.factories import add_calendar, add_specialist
from tests.sse_client import open_sse


def tomorrow_at(tenant: Any, hour: int) -> datetime:
    zone = ZoneInfo(tenant.timezone)
    day = datetime.now(zone).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, tzinfo=zone)


async def hold(http: httpx.AsyncClient, clinic: Any, cal: UUID, start: datetime) -> dict[str, Any]:
    body = {"calendar_id": str(cal), "start": start.isoformat()}
    response = await http.post(f"{clinic.public}/holds", json=body)
    assert response.status_code == 201, response.text
    held: dict[str, Any] = response.json()
    return held


def same_instant(a: str, b: str) -> bool:
    return datetime.fromisoformat(a) == datetime.fromisoformat(b)


async def test_hold_book_and_release_on_a_reach_a_subscriber_of_b(
    clinic: Any, live_server: Any, live_server_b: Any
) -> None:
    sid = await add_specialist(clinic.tenant)
    cal = (await add_calendar(clinic.tenant, [sid]))["id"]
    path = f"{clinic.public}/calendars/{cal}/events"
    async with (
        httpx.AsyncClient(base_url=live_server.url, timeout=10) as a,
        open_sse(live_server_b.url, path) as b,
    ):
        await b.ready()
        first = await hold(a, clinic, cal, tomorrow_at(clinic.tenant, 10))
        event = await b.event()
        assert event.event == SLOT_HELD
        data = event.json()
        assert set(data) <= PUBLIC_DATA_KEYS  # no patient data, no tokens
        assert data["specialist_id"] == str(sid) == first["specialist_id"]
        assert same_instant(data["start"], first["start"]) and same_instant(
            data["end"], first["end"]
        )

        booked = await a.post(
            f"{clinic.public}/bookings",
            json={
                "hold_id": first["hold_id"],
                "token": first["token"],
                "patient": {"name": "Pat Example", "email": "pat@example.test", "timezone": "UTC"},
            },
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert booked.status_code == 201, booked.text
        event = await b.event()
        assert event.event == SLOT_BOOKED
        assert "pat" not in (event.data or "").lower()
        assert same_instant(event.json()["start"], first["start"])

        second = await hold(a, clinic, cal, tomorrow_at(clinic.tenant, 11))
        assert (await b.event()).event == SLOT_HELD
        released = await a.delete(
            f"{clinic.public}/holds/{second['hold_id']}", headers={"X-Hold-Token": second["token"]}
        )
        assert released.status_code == 204, released.text
        event = await b.event()
        assert event.event == SLOT_RELEASED
        assert same_instant(event.json()["start"], second["start"])


async def test_an_expired_hold_is_released_to_subscribers_within_2_s(
    clinic: Any, live_server: Any, live_server_b: Any
) -> None:
    sid = await add_specialist(clinic.tenant)
    cal = (await add_calendar(clinic.tenant, [sid]))["id"]
    path = f"{clinic.public}/calendars/{cal}/events"
    async with (
        httpx.AsyncClient(base_url=live_server.url, timeout=10) as a,
        open_sse(live_server_b.url, path) as b,
    ):
        await b.ready()
        held = await hold(a, clinic, cal, tomorrow_at(clinic.tenant, 14))
        assert (await b.event()).event == SLOT_HELD
        # Let the hold lapse now instead of in 10 minutes (the sweeper's hint with it).
        async with tenant_tx(clinic.tenant) as conn:
            await conn.execute(
                "UPDATE appointments SET hold_expires_at = now() WHERE id = $1",
                UUID(held["hold_id"]),
            )
            await conn.execute(
                "UPDATE public.hold_expiries SET expires_at = now() WHERE appointment_id = $1",
                UUID(held["hold_id"]),
            )
        expired_at = time.monotonic()
        event = await b.event(timeout=5)
        waited = time.monotonic() - expired_at
        assert event.event == SLOT_RELEASED
        assert same_instant(event.json()["start"], held["start"])
        assert waited < 2.0, f"slot.released came {waited:.2f} s after the expiry"


async def test_staff_availability_edits_reach_the_streams_of_the_calendars_concerned(
    clinic: Any, live_server: Any, live_server_b: Any
) -> None:
    mine, other = await add_specialist(clinic.tenant), await add_specialist(clinic.tenant)
    cal = (await add_calendar(clinic.tenant, [mine]))["id"]
    path = f"{clinic.public}/calendars/{cal}/events"
    async with (
        httpx.AsyncClient(base_url=live_server.url, timeout=10, headers=clinic.headers) as a,
        open_sse(live_server_b.url, path) as b,
    ):
        await b.ready()
        week = [{"isodow": d, "start": "08:00", "end": "12:00"} for d in range(1, 6)]
        for sid in (other, mine):  # the other specialist's edit must not reach this calendar
            response = await a.put(f"{clinic.api}/specialists/{sid}/schedule", json=week)
            assert response.status_code == 200, response.text
        event = await b.event()
        assert (event.event, event.json()) == (AVAILABILITY_CHANGED, {"specialist_id": str(mine)})
        day = (
            datetime.now(ZoneInfo(clinic.tenant.timezone)).date() + timedelta(days=3)
        ).isoformat()
        response = await a.post(f"{clinic.api}/closures", json={"start_date": day})
        assert response.status_code == 201, response.text
        event = await b.event()  # a closure concerns every calendar of the clinic
        assert (event.event, event.json()) == (AVAILABILITY_CHANGED, {})
