"""Public reads (catalog, calendar, slots) and opening live-update streams are rate limited
per client address and clinic (429 + Retry-After), each in its own bucket."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest

from carebook.ratelimit import WINDOW_SECONDS
from tests.bookings.support import bookable
from tests.bookings.test_rate_limits import _in_one_window
from tests.conftest import Clinic, LiveServer, start_live_server, stop_live_server
from tests.helpers import problem


@pytest.fixture(scope="module")
def read_limited(migrated: None) -> Iterator[LiveServer]:
    server = start_live_server("rl-read", {"CAREBOOK_READ_RATE": "3",
                                           "CAREBOOK_STREAM_RATE": "2"})  # fmt: skip
    yield server
    stop_live_server(server)


async def test_public_reads_share_one_bucket(read_limited: LiveServer, clinic: Clinic) -> None:
    setup = await bookable(clinic.tenant)
    day = (date.today() + timedelta(days=1)).isoformat()
    reads = [
        f"{clinic.public}/catalog",
        f"{clinic.public}/calendars/by-slug/{setup.calendar['slug']}",
        f"{clinic.public}/calendars/{setup.calendar_id}/slots?start={day}&end={day}",
        f"{clinic.public}/catalog",
    ]

    async def check() -> None:
        async with httpx.AsyncClient(base_url=read_limited.url) as http:
            statuses = [(await http.get(url)).status_code for url in reads[:3]]
            assert statuses == [200, 200, 200], statuses
            r = await http.get(reads[3])
            problem(r, 429, "rate_limited")
            assert 1 <= int(r.headers["Retry-After"]) <= WINDOW_SECONDS
            # Holds count in their own bucket: reading did not use them up.
            hold = await http.post(f"{clinic.public}/holds", json={})
            assert hold.status_code != 429, hold.text

    await _in_one_window(check)


async def test_opening_streams_is_rate_limited(read_limited: LiveServer, clinic: Clinic) -> None:
    setup = await bookable(clinic.tenant)
    url = f"{clinic.public}/calendars/{setup.calendar_id}/events"

    async def check() -> None:
        async with httpx.AsyncClient(base_url=read_limited.url, timeout=10) as http:
            for _ in range(2):
                async with http.stream("GET", url) as r:
                    assert r.status_code == 200
                    assert r.headers["content-type"].startswith("text/event-stream")
            r = await http.get(url)
            problem(r, 429, "rate_limited")
            assert "Retry-After" in r.headers

    await _in_one_window(check)
