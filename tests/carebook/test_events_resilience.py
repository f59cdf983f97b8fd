"""Live updates survive a lost LISTEN connection, keep streams alive, and shut down cleanly."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from carebook.events.hub import APPLICATION_NAME
from carebook.events.outbox import AVAILABILITY_CHANGED, SLOT_HELD
from carebook.tenancy import platform_tx
from tests.conftest import LiveServer, start_live_server, stop_live_server
from tests.factories import add_calendar, add_specialist
from tests.sse_client import SseStream, emit, open_sse

SLOT = {"start": "2030-01-07T09:00:00+00:00", "end": "2030-01-07T09:30:00+00:00"}


def listen_app_names(*servers: LiveServer) -> list[str]:
    return [f"{APPLICATION_NAME}-{s.process.pid}" for s in servers]


async def terminate_listeners(*servers: LiveServer) -> int:
    async with platform_tx() as conn:
        killed = await conn.fetchval(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = ANY($1)",
            listen_app_names(*servers),
        )
    return int(killed)


async def hub_stats(server: LiveServer) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
        response = await http.get("/health/live")
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body


async def wait_for_stats(server: LiveServer, key: str, value: int, timeout: float = 5.0) -> None:
    """Poll the health route until ``key`` has ``value`` (stream teardown is asynchronous)."""
    deadline = time.monotonic() + timeout
    while (stats := await hub_stats(server))[key] != value:
        assert time.monotonic() < deadline, stats
        await asyncio.sleep(0.05)


async def test_killing_the_listen_backend_loses_no_event(
    clinic: Any, live_server: LiveServer, live_server_b: LiveServer
) -> None:
    s1 = await add_specialist(clinic.tenant)
    cal = (await add_calendar(clinic.tenant, [s1]))["id"]
    path = f"{clinic.public}/calendars/{cal}/events"
    before = {s.url: (await hub_stats(s))["reconnects"] for s in (live_server, live_server_b)}

    async def collect(
        server: LiveServer, ready: asyncio.Event, done: asyncio.Future[int]
    ) -> list[int]:
        async with open_sse(server.url, path) as sse:
            await sse.ready()
            ready.set()
            last = await done
            got: list[int] = []
            while not got or got[-1] < last:
                got.append(int((await sse.event(timeout=15)).id or -1))
            return got

    done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    readies = [asyncio.Event() for _ in range(4)]
    servers = [live_server, live_server, live_server_b, live_server_b]
    readers = [
        asyncio.create_task(collect(s, r, done)) for s, r in zip(servers, readies, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 15)

    written = []
    for i in range(120):
        written.append(await emit(clinic.tenant, SLOT_HELD, s1, SLOT))
        if i in (20, 60):
            for server in (live_server, live_server_b):
                await wait_for_stats(server, "listening", True)
            assert await terminate_listeners(live_server, live_server_b) == 2
        if i == 61:  # again, while a reconnect may be under way (may find nothing to kill)
            await terminate_listeners(live_server, live_server_b)
    done.set_result(written[-1])
    results = await asyncio.wait_for(asyncio.gather(*readers), 30)
    for got in results:
        assert got == written  # every event, in order, exactly once
    for server in (live_server, live_server_b):
        assert (await hub_stats(server))["reconnects"] >= before[server.url] + 2
        await wait_for_stats(server, "listening", True)


@pytest.fixture(scope="module")
def fast_server(migrated: None) -> Iterator[LiveServer]:
    """A server with a 0.2 s heartbeat, used only by this module (its counts are ours)."""
    server = start_live_server("sse-fast", {"CAREBOOK_SSE_HEARTBEAT_SECONDS": "0.2"})
    yield server
    stop_live_server(server)


async def test_retry_heartbeat_and_id_only_progress(clinic: Any, fast_server: LiveServer) -> None:
    s1, s2 = await add_specialist(clinic.tenant), await add_specialist(clinic.tenant)
    cal = (await add_calendar(clinic.tenant, [s1]))["id"]
    async with open_sse(fast_server.url, f"{clinic.public}/calendars/{cal}/events") as sse:
        raw = sse.response
        assert raw.headers["cache-control"] == "no-cache"
        opening = await sse.ready()
        assert opening.retry == 2000 and opening.id is not None and not opening.is_event
        ping = await sse.message(timeout=2)
        assert ping.comments == ["ping"]
        # Another calendar's event: never sent, but the next ping advances Last-Event-ID.
        other = await emit(clinic.tenant, SLOT_HELD, s2, SLOT)
        blocks = await sse.until(lambda b: b.id == str(other), timeout=3)
        assert all(not b.is_event and b.comments == ["ping"] for b in blocks)
        assert sse.last_event_id == str(other)


async def test_closing_the_client_frees_its_subscriber(
    clinic: Any, fast_server: LiveServer
) -> None:
    s1 = await add_specialist(clinic.tenant)
    cal = (await add_calendar(clinic.tenant, [s1]))["id"]
    path = f"{clinic.public}/calendars/{cal}/events"
    await wait_for_stats(fast_server, "subscribers", 0)
    async with open_sse(fast_server.url, path) as one, open_sse(fast_server.url, path) as two:
        await one.ready()
        await two.ready()
        assert (await hub_stats(fast_server))["subscribers"] == 2
        async with open_sse(fast_server.url, path) as three:
            await three.ready()
            assert (await hub_stats(fast_server))["subscribers"] == 3
        await wait_for_stats(fast_server, "subscribers", 2)
        # The remaining ones are unaffected.
        sent = await emit(clinic.tenant, AVAILABILITY_CHANGED, s1)
        assert [(await s.event()).id for s in (one, two)] == [str(sent)] * 2
    await wait_for_stats(fast_server, "subscribers", 0)
    await wait_for_stats(fast_server, "clinics", 0)


@pytest.fixture
async def doomed_server(migrated: None) -> AsyncIterator[LiveServer]:
    server = await asyncio.to_thread(start_live_server, "sse-doomed")
    yield server
    if server.process.poll() is None:
        stop_live_server(server)


async def test_sigterm_ends_streams_and_closes_the_listen_connection(
    clinic: Any, doomed_server: LiveServer
) -> None:
    s1 = await add_specialist(clinic.tenant)
    cal = (await add_calendar(clinic.tenant, [s1]))["id"]
    path = f"{clinic.public}/calendars/{cal}/events"

    async def open_and_wait_for_end(ready: asyncio.Event) -> bool:
        async with open_sse(doomed_server.url, path) as sse:
            await sse.ready()
            ready.set()
            await sse.end(timeout=10)
            return _ended(sse)

    readies = [asyncio.Event(), asyncio.Event()]
    streams = [asyncio.create_task(open_and_wait_for_end(r)) for r in readies]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 10)
    assert await _listen_backends(doomed_server) == 1

    doomed_server.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(asyncio.gather(*streams), 10) == [True, True]
    # Uvicorn re-raises the captured SIGTERM once its graceful shutdown has finished.
    assert await asyncio.to_thread(doomed_server.process.wait, 10) in (0, -signal.SIGTERM)
    assert await _listen_backends(doomed_server) == 0
    log = doomed_server.log.read_text()
    assert "live updates: hub stopped" in log  # the shutdown hook ran: tasks and connection
    # Other domains' noise (e.g. Redis going away in a parallel run) is not ours to judge.
    for bad in ("Task was destroyed", "Task exception was never retrieved", "carebook/events/"):
        assert bad not in log, log
    assert not [line for line in log.splitlines() if "ERROR" in line and "events" in line], log


def _ended(sse: SseStream) -> bool:
    return sse.closed


async def _listen_backends(server: LiveServer) -> int:
    deadline = time.monotonic() + 5
    while True:
        async with platform_tx() as conn:
            count = int(
                await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = ANY($1)",
                    listen_app_names(server),
                )
            )
        # A closed backend can linger in pg_stat_activity for a moment after the client left.
        if count == 0 or server.process.poll() is None or time.monotonic() > deadline:
            return count
        await asyncio.sleep(0.05)
