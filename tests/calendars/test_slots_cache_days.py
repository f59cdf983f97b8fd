"""Kept days (calendars/slots_cache.py): a slot event touches only its days, and a document
composed from kept days is byte for byte a fresh build, after any sequence of writes.

Real PostgreSQL; every write goes through the product's own functions (they publish their
events); held rows are also inserted directly (with their event) to lapse within seconds.
"""

from __future__ import annotations

import os
import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from bookings.holds import hold_slot
from calendars import service
from calendars.schemas import ClosureIn, WeeklyInterval
from calendars.slots import slots_document
from carebook import metrics
from carebook.errors import Conflict, ValidationFailed
from carebook.tenancy import tenant_tx
from tests.bookings.support import hold_and_book_sql
from tests.calendars.test_slots_cache import counts, delta, starts
from tests.factories import add_calendar, add_specialist

BERLIN = ZoneInfo("Europe/Berlin")


def day_counts() -> dict[str, float]:
    return {
        r: metrics.SLOTS_CACHE_DAYS.labels(r)._value.get()  # type: ignore[attr-defined]
        for r in ("kept", "built")
    }


@pytest.fixture(autouse=True)
def cache_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREBOOK_SLOTS_CACHE_MB", "8")


def next_monday(after_days: int) -> date:
    day = datetime.now(BERLIN).date() + timedelta(days=after_days)
    return day + timedelta(days=(7 - day.weekday()) % 7)


def at(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), BERLIN)


async def test_a_booking_touches_its_own_day_only(clinic: Any) -> None:
    sid = await add_specialist(clinic.tenant, weekly={1: [("09:00", "11:00")]})
    cal = (await add_calendar(clinic.tenant, [sid], duration=30))["id"]
    monday = next_monday(3)
    later = monday + timedelta(days=7)
    now = datetime.now(UTC)
    whole = await slots_document(clinic.tenant, cal, monday, later, None, None, now)
    assert starts(whole) == ["09:00", "09:30", "10:00", "10:30"] * 2
    await hold_slot(clinic.tenant, cal, at(monday, "09:30"))  # publishes slot.held
    before = counts()
    # The next Monday was kept through the event; the held Monday is built again.
    assert starts(await slots_document(clinic.tenant, cal, later, later, None, None, now)) == [
        "09:00", "09:30", "10:00", "10:30"
    ]  # fmt: skip
    assert delta(before) == {"hit": 1}
    assert starts(await slots_document(clinic.tenant, cal, monday, later, None, None, now)) == [
        "09:00", "10:00", "10:30", "09:00", "09:30", "10:00", "10:30"
    ]  # fmt: skip
    assert delta(before) == {"hit": 1, "miss": 1}


async def test_an_event_of_another_specialist_touches_nothing(clinic: Any) -> None:
    sid = await add_specialist(clinic.tenant, weekly={1: [("09:00", "11:00")]})
    other = await add_specialist(clinic.tenant, weekly={1: [("09:00", "11:00")]})
    cal = (await add_calendar(clinic.tenant, [sid], duration=30))["id"]
    other_cal = (await add_calendar(clinic.tenant, [other], duration=30, name="Other"))["id"]
    monday = next_monday(3)
    now = datetime.now(UTC)
    first = await slots_document(clinic.tenant, cal, monday, monday, None, None, now)
    await hold_slot(clinic.tenant, other_cal, at(monday, "09:30"))
    before = counts()
    assert await slots_document(clinic.tenant, cal, monday, monday, None, None, now) == first
    assert delta(before) == {"hit": 1}


async def _fresh(clinic: Any, *request: Any) -> bytes:
    os.environ["CAREBOOK_SLOTS_CACHE_MB"] = "0"
    try:
        return await slots_document(clinic.tenant, *request)
    finally:
        os.environ["CAREBOOK_SLOTS_CACHE_MB"] = "8"


# Slots around midnight: a slot event reaches the days its range can change (start less the
# duration and the largest buffer, to end plus it), not only its own day.
NIGHT = {1: [("20:00", "24:00")], 2: [("00:00", "04:00")]}


async def test_a_hold_after_midnight_touches_the_day_before(clinic: Any) -> None:
    sid = await add_specialist(clinic.tenant, buffer=10, weekly=NIGHT)
    cal = (await add_calendar(clinic.tenant, [sid], duration=30))["id"]
    mon = next_monday(3)
    tue = mon + timedelta(days=1)
    now = datetime.now(UTC)
    await slots_document(clinic.tenant, cal, mon, tue, None, None, now)  # keeps both days
    await hold_slot(clinic.tenant, cal, datetime.combine(tue, time(0), BERLIN))
    request = (cal, mon, mon, None, None, now)  # Monday's 23:30 now ends in the buffer
    assert await slots_document(clinic.tenant, *request) == await _fresh(clinic, *request)


async def test_a_hold_before_midnight_touches_the_day_after(clinic: Any) -> None:
    sid = await add_specialist(clinic.tenant, buffer=10, weekly=NIGHT)
    cal = (await add_calendar(clinic.tenant, [sid], duration=30))["id"]
    mon = next_monday(3)
    tue = mon + timedelta(days=1)
    now = datetime.now(UTC)
    await slots_document(clinic.tenant, cal, mon, tue, None, None, now)
    await hold_slot(clinic.tenant, cal, datetime.combine(mon, time(23, 30), BERLIN))
    # Its buffer reaches into Tuesday's 00:00. (Hours end at 24:00: days are kept per first
    # day of the request, so the request starts on Monday again.)
    request = (cal, mon, tue, None, None, now)
    assert await slots_document(clinic.tenant, *request) == await _fresh(clinic, *request)


async def test_a_hold_lapsing_after_midnight_bounds_the_day_before(clinic: Any) -> None:
    sid = await add_specialist(clinic.tenant, buffer=10, weekly=NIGHT)
    cal = (await add_calendar(clinic.tenant, [sid], duration=30))["id"]
    mon = next_monday(3)
    start = datetime.combine(mon + timedelta(days=1), time(0), BERLIN)
    now = datetime.now(UTC)
    async with tenant_tx(clinic.tenant) as conn:  # a hold that lapses with no event
        await conn.execute(
            """INSERT INTO appointments (calendar_id, specialist_id, status, starts_at,
                   ends_at, blocking, hold_expires_at, hold_token_hash)
               VALUES ($1, $2, 'held', $3, $4, tstzrange($3, $5), $6, $7)""",
            cal, sid, start, start + timedelta(minutes=30), start + timedelta(minutes=40),
            now + timedelta(seconds=5), os.urandom(32),
        )  # fmt: skip
    first = await slots_document(clinic.tenant, cal, mon, mon, None, None, now)
    later = (cal, mon, mon, None, None, now + timedelta(seconds=6))
    assert await slots_document(clinic.tenant, *later) == await _fresh(clinic, *later) != first


async def test_a_round_the_clock_day_is_kept_per_first_day_of_the_range(clinic: Any) -> None:
    # Windows run over midnights from before the 7-day look-back: rule 7 anchors the grid of
    # a 50-minute step at the look-back's edge, which moves with the range's first day.
    sid = await add_specialist(clinic.tenant, weekly={d: [("00:00", "24:00")] for d in range(1, 8)})
    cal = (await add_calendar(clinic.tenant, [sid], duration=30, interval=50))["id"]
    day = next_monday(10)
    now = datetime.now(UTC)
    longer = (cal, day - timedelta(days=1), day, None, None, now)
    alone = (cal, day, day, None, None, now)
    assert await _fresh(clinic, *longer) != await _fresh(clinic, *alone)  # the premise
    await slots_document(clinic.tenant, *longer)
    assert await slots_document(clinic.tenant, *alone) == await _fresh(clinic, *alone)
    before = counts()
    assert await slots_document(clinic.tenant, *longer) == await _fresh(clinic, *longer)
    assert delta(before) == {"hit": 1}  # still kept, for ranges from the same day


async def test_more_events_than_are_read_touch_every_day(clinic: Any) -> None:
    sid = await add_specialist(clinic.tenant, weekly={1: [("09:00", "11:00")]})
    other = await add_specialist(clinic.tenant, weekly={1: [("09:00", "11:00")]})
    cal = (await add_calendar(clinic.tenant, [sid], duration=30))["id"]
    other_cal = (await add_calendar(clinic.tenant, [other], duration=30, name="Other"))["id"]
    mon = next_monday(3)
    now = datetime.now(UTC)
    request = (cal, mon, mon, None, None, now)
    await slots_document(clinic.tenant, *request)
    await hold_slot(clinic.tenant, cal, at(mon, "09:30"))  # touches the kept day...
    nine = at(mon, "09:00")
    async with tenant_tx(clinic.tenant) as conn:  # ...then 200 events that touch nothing
        for _ in range(200):
            await conn.execute(
                "SELECT publish_slot_event('slot.held', $1, $2, $3, $4, 0)",
                other_cal, other, nine, nine + timedelta(minutes=30),
            )  # fmt: skip
    assert await slots_document(clinic.tenant, *request) == await _fresh(clinic, *request)


async def test_events_deleted_by_retention_touch_every_day(clinic: Any) -> None:
    sid = await add_specialist(clinic.tenant, weekly={1: [("09:00", "11:00")]})
    cal = (await add_calendar(clinic.tenant, [sid], duration=30))["id"]
    mon = next_monday(3)
    now = datetime.now(UTC)
    request = (cal, mon, mon, None, None, now)
    await slots_document(clinic.tenant, *request)
    await hold_slot(clinic.tenant, cal, at(mon, "09:30"))
    async with tenant_tx(clinic.tenant) as conn:  # retention deletes the hold's event
        assert await conn.fetchval("SELECT public.prune_events_in($1, interval '0')",
                                   clinic.tenant.schema) > 0  # fmt: skip
    assert await slots_document(clinic.tenant, *request) == await _fresh(clinic, *request)


async def test_a_day_built_at_a_later_clock_is_not_served_at_an_earlier_one(clinic: Any) -> None:
    sid = await add_specialist(clinic.tenant, weekly={1: [("09:00", "11:00")]})
    cal = (await add_calendar(clinic.tenant, [sid], duration=30, notice=120))["id"]
    mon = next_monday(3)
    edge = at(mon, "09:00").astimezone(UTC) - timedelta(minutes=120)
    after = (cal, mon, mon, None, None, edge + timedelta(seconds=1))  # 09:00 inside notice
    before = (cal, mon, mon, None, None, edge - timedelta(seconds=10))
    assert starts(await slots_document(clinic.tenant, *after))[0] == "09:30"
    assert starts(await slots_document(clinic.tenant, *before))[0] == "09:00"


async def _write(clinic: Any, rng: random.Random, env: dict[str, Any], clock: datetime) -> None:
    """One random write through the product's functions (or a held row lapsing silently)."""
    day = env["first"] + timedelta(days=rng.randrange(12))
    start = at(day, rng.choice(["09:00", "09:30", "10:00", "10:30", "11:00", "13:30"]))
    kind = rng.choice(["hold", "hold", "book", "release", "cancel", "reschedule", "silent_hold",
                       "schedule", "closure"])  # fmt: skip
    sid = rng.choice(env["specialists"])
    try:
        if kind == "hold":
            env["holds"].append(await hold_slot(clinic.tenant, env["cal"], start))
        elif kind == "silent_hold":  # placed as a hold is (with its event); lapses silently
            expires = clock + timedelta(seconds=rng.randrange(1, 20))
            async with tenant_tx(clinic.tenant) as conn:
                await conn.execute(
                    """INSERT INTO appointments (calendar_id, specialist_id, status, starts_at,
                           ends_at, blocking, hold_expires_at, hold_token_hash)
                       VALUES ($1, $2, 'held', $3, $4, tstzrange($3, $4), $5, $6)""",
                    env["cal"], sid, start, start + timedelta(minutes=30), expires,
                    os.urandom(32),
                )  # fmt: skip
                await conn.execute(
                    "SELECT publish_slot_event('slot.held', $1, $2, $3, $4, 0)",
                    env["cal"], sid, start, start + timedelta(minutes=30),
                )  # fmt: skip
        elif kind == "release" and env["holds"]:
            from bookings.holds import release_hold

            hold = env["holds"].pop(rng.randrange(len(env["holds"])))
            await release_hold(clinic.tenant, hold.id, hold.token)
        elif kind == "book":
            async with tenant_tx(clinic.tenant) as conn:
                env["booked"].append(await hold_and_book_sql(conn, env["cal"], start))
        elif kind in ("cancel", "reschedule") and env["booked"]:
            target = env["booked"][rng.randrange(len(env["booked"]))]
            async with tenant_tx(clinic.tenant) as conn:
                if kind == "cancel":
                    await conn.fetchrow(
                        "SELECT * FROM transition_appointment($1, 'cancel', NULL, 'staff', NULL,"
                        " 'test')",
                        target,
                    )
                else:
                    await conn.fetchrow(
                        "SELECT * FROM reschedule_appointment($1, NULL, $2, NULL, 'staff', NULL,"
                        " 'test')",
                        target, start,
                    )  # fmt: skip
        elif kind == "schedule":
            hours = rng.choice([("09:00", "12:00"), ("08:30", "11:00"), ("10:00", "14:00")])
            async with tenant_tx(clinic.tenant) as conn:
                await service.replace_weekly_schedule(
                    conn, sid, [WeeklyInterval(d, *hours) for d in range(1, 6)]
                )
        elif kind == "closure":
            async with tenant_tx(clinic.tenant) as conn:
                await service.create_closure(
                    conn, ClosureIn(start_date=day, end_date=day, reason=f"closed {day}")
                )
    except (
        Conflict,
        ValidationFailed,
        asyncpg.RaiseError,
        asyncpg.IntegrityConstraintViolationError,
    ):
        pass  # not a slot, taken, or a transition that does not apply: nothing changed


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_composed_documents_equal_fresh_builds_after_random_writes(
    clinic: Any, seed: int
) -> None:
    rng = random.Random(seed)
    a = await add_specialist(clinic.tenant, buffer=10)
    b = await add_specialist(clinic.tenant, timezone="Europe/London")
    cal = (await add_calendar(clinic.tenant, [a, b], duration=30))["id"]
    env: dict[str, Any] = {
        "cal": cal, "specialists": [a, b], "first": next_monday(2), "holds": [], "booked": [],
    }  # fmt: skip
    clock = datetime.now(UTC)
    kept_before = day_counts()
    for _ in range(45):
        for _ in range(rng.choice([0, 1, 1, 2])):
            await _write(clinic, rng, env, clock)
        clock += timedelta(seconds=rng.randrange(0, 9))
        first = env["first"] + timedelta(days=rng.randrange(10))
        request = (cal, first, first + timedelta(days=rng.randrange(5)),
                   rng.choice([None, None, "America/New_York"]), rng.choice([None, None, a]),
                   clock)  # fmt: skip
        composed = await slots_document(clinic.tenant, *request)
        assert composed == await _fresh(clinic, *request), request
    served = day_counts()
    kept, built = (served[k] - kept_before[k] for k in ("kept", "built"))
    # Kept days were really composed into answers, not only built (13-31 % of the days here:
    # zones, specialist choices and clinic-wide edits split and clear them).
    assert kept >= 10 and built > 0, served
