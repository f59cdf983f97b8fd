"""Kept slots documents are served only while provably current (calendars/slots_cache.py).

Real PostgreSQL; the clock is the ``now`` the service is given. Writes that must invalidate
go through the product's own functions (they publish an event); the direct writes below
stand for what publishes nothing: time passing over a hold, and hand-written SQL.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from calendars import service
from calendars.schemas import ClosureIn
from calendars.slots import slots_document
from carebook import metrics
from carebook.tenancy import tenant_tx
from tests.calendars.engine_helpers import add_appointment
from tests.factories import add_calendar, add_specialist

DAY = date(2026, 6, 10)  # a Wednesday; Berlin is UTC+2
NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def cache_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CAREBOOK_SLOTS_CACHE_MB", "8")
    yield


def counts() -> dict[str, float]:
    return {
        r: metrics.SLOTS_CACHE.labels(r)._value.get()  # type: ignore[attr-defined]
        for r in ("hit", "shared", "miss")
    }


def delta(before: dict[str, float]) -> dict[str, float]:
    after = counts()
    return {k: after[k] - before[k] for k in after if after[k] != before[k]}


def starts(document: bytes) -> list[str]:
    days = json.loads(document)["days"]
    return [s["start"][11:16] for d in days for s in d["slots"]]


async def setup(clinic: Any, **calendar: Any) -> tuple[Any, Any]:
    sid = await add_specialist(clinic.tenant, weekly={3: [("09:00", "11:00")]})
    cal = (await add_calendar(clinic.tenant, [sid], duration=30, **calendar))["id"]
    return sid, cal


async def get(clinic: Any, cal: Any, now: datetime, day: date = DAY) -> bytes:
    return await slots_document(clinic.tenant, cal, day, day, None, None, now)


async def test_a_repeat_request_is_served_from_the_cache(clinic: Any) -> None:
    _, cal = await setup(clinic)
    before = counts()
    first = await get(clinic, cal, NOW)
    again = await get(clinic, cal, NOW + timedelta(seconds=5))
    assert again == first
    assert starts(first) == ["09:00", "09:30", "10:00", "10:30"]
    assert delta(before) == {"miss": 1, "hit": 1}


async def test_an_event_of_the_clinic_invalidates(clinic: Any) -> None:
    sid, cal = await setup(clinic)
    await get(clinic, cal, NOW)
    async with tenant_tx(clinic.tenant) as conn:  # a schedule edit publishes availability.changed
        await service.replace_weekly_schedule(conn, sid, [])
    before = counts()
    assert starts(await get(clinic, cal, NOW)) == []
    assert delta(before) == {"miss": 1}


async def test_a_closure_through_the_service_invalidates(clinic: Any) -> None:
    _, cal = await setup(clinic)
    assert starts(await get(clinic, cal, NOW))
    async with tenant_tx(clinic.tenant) as conn:
        await service.create_closure(conn, ClosureIn(start_date=DAY, end_date=DAY, reason="x"))
    assert starts(await get(clinic, cal, NOW)) == []


async def test_a_lapsing_hold_frees_its_slot_without_any_event(clinic: Any) -> None:
    sid, cal = await setup(clinic)
    nine = datetime(2026, 6, 10, 7, 0, tzinfo=UTC)
    expires = NOW + timedelta(seconds=20)  # inside the TTL: the hold decides
    await add_appointment(clinic.tenant, cal, sid, nine, 30, status="held", hold_expires_at=expires)
    assert starts(await get(clinic, cal, NOW)) == ["09:30", "10:00", "10:30"]
    before = counts()
    assert starts(await get(clinic, cal, expires - timedelta(seconds=1)))[0] == "09:30"
    assert starts(await get(clinic, cal, expires)) == ["09:00", "09:30", "10:00", "10:30"]
    assert delta(before) == {"hit": 1, "miss": 1}


async def test_the_notice_edge_drops_the_first_slot_on_time(clinic: Any) -> None:
    _, cal = await setup(clinic, notice=120)
    nine = datetime(2026, 6, 10, 7, 0, tzinfo=UTC)
    edge = nine - timedelta(minutes=120)  # from then on, 09:00 is inside the notice
    before = counts()
    assert starts(await get(clinic, cal, edge - timedelta(seconds=10)))[0] == "09:00"
    assert starts(await get(clinic, cal, edge - timedelta(seconds=1)))[0] == "09:00"
    assert starts(await get(clinic, cal, edge + timedelta(seconds=1)))[0] == "09:30"
    assert delta(before) == {"miss": 2, "hit": 1}


async def test_a_range_past_the_horizon_is_never_kept(clinic: Any) -> None:
    _, cal = await setup(clinic, horizon=5)
    before = counts()
    late = DAY - timedelta(days=5)  # DAY is 5-6 days ahead of this clock: the horizon cuts it
    now = datetime.combine(late, datetime.min.time(), UTC) + timedelta(hours=12)
    first = await get(clinic, cal, now)
    assert await get(clinic, cal, now) == first
    assert delta(before) == {"miss": 2}


async def test_a_change_that_publishes_nothing_is_seen_within_the_ttl(clinic: Any) -> None:
    sid, cal = await setup(clinic)
    assert starts(await get(clinic, cal, NOW))
    async with tenant_tx(clinic.tenant) as conn:  # hand-written SQL: no event
        await conn.execute("DELETE FROM weekly_intervals WHERE specialist_id = $1", sid)
    assert starts(await get(clinic, cal, NOW + timedelta(seconds=29)))  # still kept
    assert starts(await get(clinic, cal, NOW + timedelta(seconds=30))) == []


async def test_concurrent_requests_share_one_build(clinic: Any) -> None:
    _, cal = await setup(clinic)
    before = counts()
    documents = await asyncio.gather(*(get(clinic, cal, NOW) for _ in range(20)))
    assert len(set(documents)) == 1
    served = delta(before)  # built once: the others waited for it, or came after it
    assert served.pop("miss") == 1 and sum(served.values()) == 19


async def test_off_when_the_size_is_zero(clinic: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREBOOK_SLOTS_CACHE_MB", "0")
    _, cal = await setup(clinic)
    before = counts()
    await get(clinic, cal, NOW)
    await get(clinic, cal, NOW)
    assert delta(before) == {}


async def test_a_request_never_shares_a_call_that_read_before_it_came(
    clinic: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first request's statement has run (its answer still on its way) when a schedule
    # edit commits; a request that comes after the edit must see it, not share that answer.
    from calendars import slots as slots_module

    sid, cal = await setup(clinic)
    real = slots_module.call_in_schema
    answered, go_on = asyncio.Event(), asyncio.Event()

    async def answer_held_back(*args: Any, **kwargs: Any) -> Any:
        rows = await real(*args, **kwargs)
        answered.set()
        await go_on.wait()
        return rows

    monkeypatch.setattr(slots_module, "call_in_schema", answer_held_back)
    first = asyncio.ensure_future(get(clinic, cal, NOW))
    await answered.wait()
    monkeypatch.setattr(slots_module, "call_in_schema", real)
    async with tenant_tx(clinic.tenant) as conn:  # publishes availability.changed
        await service.replace_weekly_schedule(conn, sid, [])
    second = asyncio.ensure_future(get(clinic, cal, NOW + timedelta(seconds=1)))
    go_on.set()  # the first call's answer arrives after the second request has looked
    assert starts(await first) == ["09:00", "09:30", "10:00", "10:30"]
    assert starts(await second) == []
