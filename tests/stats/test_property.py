"""Property test: after any sequence of bookings, transitions (cancel and no-show included),
reschedules and reviews, the statistics rollup equals a recount of the raw tables, and the
statistics API answers with the recount for the clinic, a specialist and a calendar.

Every example runs in one transaction that is rolled back (each operation in a savepoint,
so a refused one rolls back like a refused request); the real SQL use cases run:
hold_slot/book_hold, transition_appointment, reschedule_appointment, submit_review.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from stats import service
from tests.bookings.support import hold_and_book_sql
from tests.conftest import DATABASE_URL
from tests.stats.recount import by_month, monthly, offered_recount, recount, rollup, totals

ACTIONS = ["upcoming", "confirm", "start", "complete", "cancel", "no_show"]
# From booked to each state (a step that is not possible from where it stands is refused).
PATHS = {
    "confirmed": ["upcoming", "confirm"],
    "in_progress": ["upcoming", "confirm", "start"],
    "done": ["upcoming", "confirm", "start", "complete"],
    "cancelled": ["upcoming", "cancel"],
    "no_show": ["upcoming", "no_show"],
}

operations = st.lists(
    st.one_of(
        st.tuples(st.just("book"), st.integers(1, 3), st.integers(0, 7), st.integers(0, 1)),
        st.tuples(st.just("act"), st.integers(0, 20), st.sampled_from(ACTIONS)),
        st.tuples(st.just("walk"), st.integers(0, 20), st.sampled_from(sorted(PATHS))),
        st.tuples(st.just("reschedule"), st.integers(0, 20), st.integers(1, 3),
                  st.integers(0, 7)),
        st.tuples(st.just("review"), st.integers(0, 20), st.integers(1, 5)),
        st.tuples(st.just("review"), st.integers(0, 20), st.integers(1, 5)),
    ),
    min_size=1,
    max_size=30,
)  # fmt: skip


class _Rollback(Exception):
    pass


async def _setup(conn: asyncpg.Connection) -> dict[str, Any]:
    """Two specialists (09:00-17:00 daily); calendar A has both, calendar B the first."""
    specs = []
    for name in ("Dr A", "Dr B"):
        sid = await conn.fetchval(
            "INSERT INTO specialists (name, email, timezone) VALUES ($1, $2, 'Europe/Berlin') "
            "RETURNING id",
            name, f"{uuid.uuid4().hex[:8]}@s.test",
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO weekly_intervals (specialist_id, isodow, starts, ends) "
            "SELECT $1, d, '09:00', '17:00' FROM generate_series(1, 7) d",
            sid,
        )
        specs.append(sid)
    service_id = await conn.fetchval(
        "INSERT INTO services (name, default_duration_minutes) VALUES ('S', 30) RETURNING id"
    )
    cals = []
    for members, duration in ((specs, 30), (specs[:1], 45)):
        cid = await conn.fetchval(
            """INSERT INTO calendars (service_id, name, slug, price_minor, currency,
                   duration_minutes, min_notice_minutes)
               VALUES ($1, 'C', $2, 0, 'EUR', $3, 0) RETURNING id""",
            service_id, f"c{uuid.uuid4().hex[:10]}", duration,
        )  # fmt: skip
        for sid in members:
            await conn.execute(
                "INSERT INTO calendar_specialists (calendar_id, specialist_id) VALUES ($1, $2)",
                cid, sid,
            )  # fmt: skip
        cals.append(cid)
    return {"specialists": specs, "calendars": cals}


def _start(day: int, index: int, zone: ZoneInfo) -> datetime:
    local = datetime.combine(datetime.now(zone).date() + timedelta(days=day), time(9), zone)
    return local + timedelta(minutes=45 * index)  # on both calendars' grids (30, 45 min)


async def _apply(conn: asyncpg.Connection, op: tuple[Any, ...], env: dict[str, Any]) -> None:
    zone = ZoneInfo("Europe/Berlin")
    appts: list[Any] = env["appointments"]
    kind = op[0]
    if kind == "book":
        _, day, index, cal = op
        appts.append(
            await hold_and_book_sql(conn, env["calendars"][cal], _start(day, index % 6, zone))
        )
        return
    if not appts:
        return
    target = appts[op[1] % len(appts)]
    if kind == "walk":
        for step in PATHS[op[2]]:
            try:
                async with conn.transaction():
                    await _apply(conn, ("act", op[1], step), env)
            except asyncpg.RaiseError:
                pass
    elif kind == "act":
        action = op[2]
        if action in ("start", "no_show"):  # past the time guards: the start an hour ago
            await conn.execute(
                """UPDATE appointments SET starts_at = starts_at + d, ends_at = ends_at + d,
                       blocking = tstzrange(lower(blocking) + d, upper(blocking) + d)
                   FROM (SELECT now() - interval '1 hour' - starts_at AS d
                         FROM appointments WHERE id = $1) x
                   WHERE id = $1 AND starts_at > now() - interval '1 hour'""",
                target,
            )
        actor = "system" if action == "upcoming" else "staff"
        await conn.fetchrow(
            "SELECT * FROM transition_appointment($1, $2, NULL, $3, NULL, 'test')",
            target, action, actor,
        )  # fmt: skip
    elif kind == "reschedule":
        await conn.fetchrow(
            "SELECT * FROM reschedule_appointment($1, NULL, $2, NULL, 'staff', NULL, 'test')",
            target, _start(op[2], op[3] % 6, zone),
        )  # fmt: skip
    elif kind == "review":
        await conn.fetchrow("SELECT * FROM submit_review($1, $2, NULL)", target, op[2])


@pytest.mark.slow
@settings(
    max_examples=int(os.environ.get("CAREBOOK_PROPERTY_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(ops=operations, span=st.integers(0, 2))
async def test_statistics_equal_a_recount(
    clinic: Any, ops: list[tuple[Any, ...]], span: int
) -> None:
    conn = await asyncpg.connect(DATABASE_URL)
    try:
        async with conn.transaction():
            await conn.execute(f'SET LOCAL search_path TO "{clinic.tenant.schema}", public')
            await _check(conn, clinic.tenant.timezone, ops, span)
            raise _Rollback
    except _Rollback:
        pass
    finally:
        await conn.close()


async def _check(
    conn: asyncpg.Connection, zone: str, ops: list[tuple[Any, ...]], span: int
) -> None:
    env = {**await _setup(conn), "appointments": []}
    applied = 0
    for op in ops:
        try:
            async with conn.transaction():  # a savepoint: a refused operation leaves nothing
                await _apply(conn, op, env)
            applied += 1
        except (asyncpg.RaiseError, asyncpg.ExclusionViolationError):
            pass
    statuses = await conn.fetch("SELECT DISTINCT status FROM appointments ORDER BY 1")
    for row in statuses:
        event(f"some appointment ends {row['status']}")
    event(f"{applied} of {len(ops)} operations applied" if applied < 3 else "3+ applied")
    if await conn.fetchval("SELECT count(*) FROM appointment_history WHERE event = 'rescheduled'"):
        event("rescheduled")
    if await conn.fetchval("SELECT count(*) FROM reviews"):
        event("reviewed")
    raw = await recount(conn, zone)
    assert await rollup(conn) == raw
    assert await monthly(conn) == by_month(raw)
    async with conn.transaction():  # the one-pass recount agrees with the triggers
        await conn.execute("SELECT stats_rebuild()")
        assert await rollup(conn) == raw and await monthly(conn) == by_month(raw)
    today = datetime.now(ZoneInfo(zone)).date()
    # A period inside one month or across months (whole months come from the monthly rollup).
    start, end = today - timedelta(days=2 + 31 * span), today + timedelta(days=4 + 31 * span)
    scopes = [(None, None), (env["specialists"][0], None), (None, env["calendars"][1]),
              (env["specialists"][1], env["calendars"][0])]  # fmt: skip
    for specialist, calendar in scopes:
        out = await service.statistics(conn, zone, start, end, specialist, calendar)
        expected = totals(raw, start, end, specialist, calendar)
        got = out.total
        names = ("booked", "completed", "cancelled", "no_show", "booked_minutes", "rating_count")
        assert {k: getattr(got, k) for k in names} == {k: expected[k] for k in names}
        if span == 0:  # offered time against the engine, day by day (short periods only)
            assert got.offered_minutes == await offered_recount(conn, zone, start, end,
                                                                specialist, calendar)  # fmt: skip
        if expected["rating_count"]:
            average = round(expected["rating_sum"] / expected["rating_count"], 2)
            assert got.average_rating == average
