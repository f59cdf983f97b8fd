"""The SSE endpoint against real server processes: fan-out, replay, resync, routing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx

from carebook.events.outbox import (
    AVAILABILITY_CHANGED,
    PUBLIC_DATA_KEYS,
    SLOT_BOOKED,
    SLOT_HELD,
    SLOT_RELEASED,
)
from carebook.events.retention import prune_events
from carebook.tenancy import tenant_tx
from tests.factories import add_calendar, add_specialist
from tests.helpers import problem
from tests.sse_client import SseMessage, emit, open_sse

SLOT = {"start": "2030-01-07T09:00:00+00:00", "end": "2030-01-07T09:30:00+00:00"}


def events_path(clinic: Any, calendar_id: Any) -> str:
    return f"{clinic.public}/calendars/{calendar_id}/events"


def ids(messages: list[SseMessage]) -> list[int]:
    return [int(m.id or -1) for m in messages]


async def two_calendars(clinic: Any) -> tuple[Any, Any, Any, Any]:
    """Specialists s1, s2 and calendars x (s1) and y (s2)."""
    s1 = await add_specialist(clinic.tenant, name="Dr One")
    s2 = await add_specialist(clinic.tenant, name="Dr Two")
    x = await add_calendar(clinic.tenant, [s1], name="X")
    y = await add_calendar(clinic.tenant, [s2], name="Y")
    return s1, s2, x["id"], y["id"]


async def test_a_commit_reaches_subscribers_of_both_processes(
    clinic: Any, live_server: Any, live_server_b: Any
) -> None:
    s1 = await add_specialist(clinic.tenant)
    cal = (await add_calendar(clinic.tenant, [s1]))["id"]
    path = events_path(clinic, cal)
    async with open_sse(live_server.url, path) as a, open_sse(live_server_b.url, path) as b:
        for sse in (a, b):
            assert sse.response.status_code == 200
            assert sse.response.headers["content-type"].startswith("text/event-stream")
            opening = await sse.ready()
            assert opening.retry == 2000
        held = await emit(clinic.tenant, SLOT_HELD, s1, SLOT)
        booked = await emit(clinic.tenant, SLOT_BOOKED, s1, SLOT)
        released = await emit(clinic.tenant, SLOT_RELEASED, s1, SLOT)
        for sse in (a, b):
            got = await sse.events(3)
            assert ids(got) == [held, booked, released]
            assert [m.event for m in got] == [SLOT_HELD, SLOT_BOOKED, SLOT_RELEASED]
            assert got[0].json() == {"specialist_id": str(s1), **SLOT}


async def test_reconnect_with_last_event_id_gets_exactly_the_missed_events(
    clinic: Any, live_server: Any, live_server_b: Any
) -> None:
    s1, s2, x, _ = await two_calendars(clinic)
    path = events_path(clinic, x)
    async with open_sse(live_server.url, path) as sse:
        await sse.ready()
        first = await emit(clinic.tenant, SLOT_HELD, s1, SLOT)
        assert ids([await sse.event()]) == [first]
        assert sse.last_event_id == str(first)
    missed = [
        await emit(clinic.tenant, SLOT_RELEASED, s1, SLOT),
        await emit(clinic.tenant, SLOT_HELD, s2, SLOT),  # not this calendar's
        await emit(clinic.tenant, AVAILABILITY_CHANGED, None),  # clinic-wide
        await emit(clinic.tenant, SLOT_BOOKED, s1, SLOT),
    ]
    wanted = [missed[0], missed[2], missed[3]]
    # Reconnect to the other process: the outbox is shared, the cursor is global.
    async with open_sse(live_server_b.url, path, last_event_id=first) as sse:
        await sse.ready()
        assert ids(await sse.events(3)) == wanted
        live = await emit(clinic.tenant, SLOT_RELEASED, s1, SLOT)
        assert ids([await sse.event()]) == [live]  # no duplicate of the replayed ones
    # The query parameter works for a first connection; the header wins over it.
    async with open_sse(live_server.url, path, params={"last_event_id": first}) as sse:
        await sse.ready()
        assert ids(await sse.events(4)) == [*wanted, live]
    async with open_sse(
        live_server.url, path, params={"last_event_id": first}, last_event_id=missed[2]
    ) as sse:
        await sse.ready()
        assert ids(await sse.events(2)) == [missed[3], live]


async def test_too_old_last_event_id_gets_resync_and_the_check_is_exact(
    clinic: Any, live_server: Any
) -> None:
    s1 = await add_specialist(clinic.tenant)
    cal = (await add_calendar(clinic.tenant, [s1]))["id"]
    path = events_path(clinic, cal)
    old = [await emit(clinic.tenant, SLOT_HELD, s1, SLOT) for _ in range(3)]
    pruned = await prune_events(timedelta(0), schemas=[clinic.tenant.schema])
    assert pruned == {clinic.tenant.schema: 3}

    async with open_sse(live_server.url, path, last_event_id=old[0]) as sse:
        await sse.ready()
        resync = await sse.event()
        assert (resync.event, resync.json(), resync.id) == ("resync", {}, str(old[-1]))
        after = await emit(clinic.tenant, SLOT_RELEASED, s1, SLOT)
        assert ids([await sse.event()]) == [after]

    # The client that saw the last pruned event missed nothing: no resync, just the new one.
    async with open_sse(live_server.url, path, last_event_id=old[-1]) as sse:
        await sse.ready()
        assert ids([await sse.event()]) == [after]

    for bogus in (after + 1000, "not-a-number"):  # never issued by this clinic
        async with open_sse(live_server.url, path, last_event_id=bogus) as sse:
            await sse.ready()
            assert (await sse.event()).event == "resync"


async def test_events_of_one_clinic_never_reach_another(
    clinic: Any, make_clinic: Any, live_server: Any, live_server_b: Any
) -> None:
    other = await make_clinic()
    mine = await add_specialist(clinic.tenant)
    theirs = await add_specialist(other.tenant)
    cal_mine = (await add_calendar(clinic.tenant, [mine]))["id"]
    cal_theirs = (await add_calendar(other.tenant, [theirs]))["id"]
    async with (
        open_sse(live_server.url, events_path(clinic, cal_mine)) as a,
        open_sse(live_server_b.url, events_path(other, cal_theirs)) as b,
    ):
        await a.ready()
        await b.ready()
        # Clinic-wide events go to every stream *of that clinic* only.
        wide = await emit(clinic.tenant, AVAILABILITY_CHANGED, None)
        held = await emit(clinic.tenant, SLOT_HELD, mine, SLOT)
        sentinel = await emit(other.tenant, AVAILABILITY_CHANGED, None)
        assert ids(await a.events(2)) == [wide, held]
        got = await b.event()
        assert (got.id, got.event) == (str(sentinel), AVAILABILITY_CHANGED)


async def test_only_events_about_the_calendars_specialists_are_sent(
    clinic: Any, live_server: Any
) -> None:
    s1, s2, x, y = await two_calendars(clinic)
    async with open_sse(live_server.url, events_path(clinic, x)) as sse:
        await sse.ready()
        await emit(clinic.tenant, SLOT_HELD, s2, SLOT)  # y's specialist
        await emit(clinic.tenant, AVAILABILITY_CHANGED, None, {"calendar_id": str(y)})
        closure = await emit(clinic.tenant, AVAILABILITY_CHANGED, None)
        mine = await emit(clinic.tenant, SLOT_HELD, s1, SLOT)
        got = await sse.events(2)
        assert ids(got) == [closure, mine]

        # s2 joins x: the calendar edit reaches x and refreshes its specialist set.
        async with tenant_tx(clinic.tenant) as conn:
            await conn.execute(
                "INSERT INTO calendar_specialists (calendar_id, specialist_id) VALUES ($1, $2)",
                x,
                s2,
            )
            from carebook.events.outbox import publish

            joined = await publish(conn, AVAILABILITY_CHANGED, None, {"calendar_id": str(x)})
        now_mine = await emit(clinic.tenant, SLOT_BOOKED, s2, SLOT)
        got = await sse.events(2)
        assert ids(got) == [joined, now_mine]
        assert got[0].json() == {"calendar_id": str(x)}

        # ... and s1 leaves it: s1's events stop.
        async with tenant_tx(clinic.tenant) as conn:
            await conn.execute("DELETE FROM calendar_specialists WHERE specialist_id = $1", s1)
            left = await publish(conn, AVAILABILITY_CHANGED, None, {"calendar_id": str(x)})
        await emit(clinic.tenant, SLOT_RELEASED, s1, SLOT)
        last = await emit(clinic.tenant, SLOT_RELEASED, s2, SLOT)
        got = await sse.events(2)
        assert ids(got) == [left, last]
        for message in got:
            assert set(message.json()) <= PUBLIC_DATA_KEYS


async def test_unknown_calendar_is_a_404_problem(clinic: Any, live_server: Any) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as http:
        response = await http.get(events_path(clinic, uuid.uuid4()))
        problem(response, 404, "calendar_not_found")
        response = await http.get(events_path(clinic, "not-a-uuid"))
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
        response = await http.get(
            f"/api/v1/clinics/nosuchclinic/public/calendars/{uuid.uuid4()}/events"
        )
        problem(response, 404, "clinic_not_found")
