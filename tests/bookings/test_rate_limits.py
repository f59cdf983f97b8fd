"""Public hold and booking routes are rate limited per client address (429 + Retry-After)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest

from carebook.ratelimit import WINDOW_SECONDS
from tests.bookings.support import bookable, booking_body, hold_body, idem, slot
from tests.conftest import Clinic, LiveServer, start_live_server, stop_live_server
from tests.helpers import problem


@pytest.fixture(scope="module")
def limited_server(migrated: None) -> Iterator[LiveServer]:
    server = start_live_server("rl", {"CAREBOOK_HOLD_RATE": "3", "CAREBOOK_BOOKING_RATE": "2"})
    yield server
    stop_live_server(server)


MARGIN_SECONDS = 10  # far more than a check's few requests take, even on a loaded machine


async def _in_one_window(check: Callable[[], Awaitable[None]]) -> None:
    """Run ``check`` inside one fixed window of the limiter.

    A check that straddles a window boundary sees its counts restart, and running it again in
    the new window would inherit the counts its first run left there (a flake seen through
    PgBouncer: [201, 429, 429, 429]). So it starts in the next window when the current one
    has less than ``MARGIN_SECONDS`` left: waiting for the clock is the event here."""
    left = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
    if left < MARGIN_SECONDS:
        await asyncio.sleep(left + 0.05)
    window = int(time.time() // WINDOW_SECONDS)
    await check()
    assert int(time.time() // WINDOW_SECONDS) == window, "the check outlasted its window margin"


async def test_holds_are_rate_limited(limited_server: LiveServer, clinic: Clinic) -> None:
    setup = await bookable(clinic.tenant)
    hours = iter(range(9, 17))

    async def check() -> None:
        async with httpx.AsyncClient(base_url=limited_server.url) as http:
            statuses = []
            for _ in range(4):
                body = hold_body(setup, slot(clinic.tenant, hour=next(hours)))
                r = await http.post(f"{clinic.public}/holds", json=body)
                statuses.append(r.status_code)
            assert statuses == [201, 201, 201, 429], statuses
            problem(r, 429, "rate_limited")
            assert 1 <= int(r.headers["Retry-After"]) <= WINDOW_SECONDS

    await _in_one_window(check)


async def test_bookings_are_rate_limited(limited_server: LiveServer, clinic: Clinic) -> None:
    setup = await bookable(clinic.tenant)
    holds = []
    async with httpx.AsyncClient(base_url=limited_server.url) as http:
        for hour in (9, 10, 11):
            r = await http.post(
                f"{clinic.public}/holds", json=hold_body(setup, slot(clinic.tenant, hour=hour))
            )
            if r.status_code == 429:
                pytest.fail("hold budget exhausted before the booking check")
            holds.append(r.json())

    async def check() -> None:
        async with httpx.AsyncClient(base_url=limited_server.url) as http:
            statuses = []
            for hold in holds:
                r = await http.post(
                    f"{clinic.public}/bookings", json=booking_body(hold), headers=idem()
                )
                statuses.append(r.status_code)
            assert statuses[-1] == 429 and statuses.count(201) <= 2, statuses
            problem(r, 429, "rate_limited")
            assert int(r.headers["Retry-After"]) >= 1

    await _in_one_window(check)
