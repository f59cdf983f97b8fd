"""Property test: the SQL engine equals the minute-by-minute reference model.

Random schedules (several intervals a day, 24:00 ends), overrides (days off, custom hours),
buffers, appointments (held/expired/booked/cancelled), closures, special hours, active
windows, notice and horizon, 1-3 specialists in zones with DST (repeated and skipped
midnights too), 30- and 45-minute offsets, over dates next to the 2026 transitions.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.calendars.reference import BLOCKING, Calendar, Specialist, reference_slots
from tests.conftest import DATABASE_URL

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Europe/London",
    "America/Havana",  # midnight is skipped in March and repeated in November
    "Asia/Beirut",  # 23:00-24:00 repeated in October
]
# 2026 transition days (New York, Europe, Lord Howe / Sydney) and one plain day.
BASE_DATES = [
    date(2026, 3, 8),
    date(2026, 3, 29),
    date(2026, 4, 5),
    date(2026, 10, 4),
    date(2026, 10, 25),
    date(2026, 11, 1),
    date(2026, 6, 10),
]
QUARTERS = [f"{h:02d}:{m:02d}" for h in range(24) for m in (0, 15, 30, 45)] + ["24:00"]


@st.composite
def day_intervals(draw: st.DrawFn, max_count: int = 2) -> list[tuple[str, str]]:
    """0..max_count sorted, non-overlapping intervals on the quarter-hour grid."""
    # Half the ends fall between 01:00 and 03:00, where the transitions are.
    point = st.integers(0, 96) | st.integers(4, 12)
    points = sorted(draw(st.sets(point, max_size=2 * max_count)))
    if len(points) % 2:
        points = points[:-1]
    return [(QUARTERS[a], QUARTERS[b]) for a, b in zip(points[::2], points[1::2], strict=True)]


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    base = draw(st.sampled_from(BASE_DATES))
    clinic_zone = draw(st.sampled_from(ZONES))
    query_from = datetime.combine(base, datetime.min.time(), tzinfo=UTC) + timedelta(
        minutes=15 * draw(st.integers(-4 * 16, 4 * 12))
    )
    query_to = query_from + timedelta(minutes=15 * draw(st.integers(1, 4 * 48)))
    now = query_from - timedelta(minutes=5 * draw(st.integers(0, 12 * 30)))
    cal = Calendar(
        duration=draw(st.sampled_from([15, 30, 45, 60, 90])),
        interval=draw(st.sampled_from([None, 10, 15, 20, 30, 45, 60])),
        notice=draw(st.sampled_from([0, 30, 240])),
        horizon_days=draw(st.integers(1, 5)),
        special=draw(
            st.sampled_from([False, False, True]).flatmap(
                lambda on: (
                    st.dictionaries(st.integers(1, 7), day_intervals(2), min_size=3)
                    if on
                    else st.none()
                )
            )
        ),
    )
    if cal.special is not None:  # no rows at all means "no special hours"
        cal.special = {k: v for k, v in cal.special.items() if v} or None
    if draw(st.integers(0, 3)) == 0:
        cal.active_from = query_from + timedelta(minutes=5 * draw(st.integers(-300, 300)))
        cal.active_until = cal.active_from + timedelta(minutes=5 * draw(st.integers(1, 900)))
    specialists: dict[str, Specialist] = {}
    for i in range(draw(st.integers(1, 3))):
        s = Specialist(
            zone=draw(st.sampled_from(ZONES)),
            buffer=draw(st.sampled_from([0, 10, 15, 30])),
            weekly=draw(st.dictionaries(st.integers(1, 7), day_intervals(3), min_size=5)),
            active=draw(st.booleans()) or i == 0,
        )
        for d in draw(st.sets(st.integers(-2, 4), max_size=3)):
            s.overrides[base + timedelta(days=d)] = draw(day_intervals(2))
        taken: list[tuple[datetime, datetime]] = []
        for _ in range(draw(st.integers(0, 8))):
            start = query_from + timedelta(minutes=15 * draw(st.integers(-8, 4 * 48)))
            length = draw(st.sampled_from([15, 30, 45, 60]))
            status = draw(st.sampled_from(["booked", "held", "cancelled", "done", "expired"]))
            expires = (
                now + timedelta(minutes=draw(st.integers(-20, 20))) if status == "held" else None
            )
            end = start + timedelta(minutes=length + s.buffer)
            if status in BLOCKING:  # the exclusion constraint forbids overlapping blockers
                if any(start < e and b < end for b, e in taken):
                    continue
                taken.append((start, end))
            s.appointments.append((start, length, status, expires))
        specialists[f"s{i}"] = s
    closures = {base + timedelta(days=d) for d in draw(st.sets(st.integers(-2, 5), max_size=1))}
    span = int((query_to - query_from).total_seconds()) // 300  # 5-minute steps in the range
    probes = [query_from + timedelta(minutes=5 * k)
              for k in draw(st.sets(st.integers(0, span - 1), max_size=4))]  # fmt: skip
    return {
        "probes": probes,
        "clinic_zone": clinic_zone,
        "cal": cal,
        "specialists": specialists,
        "closures": closures,
        "from": query_from,
        "to": query_to,
        "now": now,
    }


class _Rollback(Exception):
    pass


async def _engine_slots(
    conn: asyncpg.Connection, schema: str, sc: dict[str, Any]
) -> tuple[set[Any], dict[datetime, set[tuple[str, bool]]]]:
    """Write the scenario into the clinic schema and run the SQL engine."""
    await conn.execute(
        "UPDATE public.tenants SET timezone = $1 WHERE schema_name = $2", sc["clinic_zone"], schema
    )
    cal: Calendar = sc["cal"]
    service = await conn.fetchval(
        "INSERT INTO services (name, default_duration_minutes) VALUES ('s', 30) RETURNING id"
    )
    cal_id = await conn.fetchval(
        """INSERT INTO calendars (service_id, name, slug, price_minor, currency, duration_minutes,
               slot_interval_minutes, min_notice_minutes, horizon_days, active_from, active_until)
           VALUES ($1, 'c', $2, 0, 'EUR', $3, $4, $5, $6, $7, $8) RETURNING id""",
        service,
        f"p-{uuid.uuid4().hex[:10]}",
        cal.duration,
        cal.interval,
        cal.notice,
        cal.horizon_days,
        cal.active_from,
        cal.active_until,
    )
    for dow, ivs in (cal.special or {}).items():
        for a, b in ivs:
            await conn.execute(
                "INSERT INTO calendar_special_hours VALUES ($1, $2, $3::text::time,"
                " $4::text::time)",
                cal_id,
                dow,
                a,
                b,
            )
    for d in sc["closures"]:
        await conn.execute(
            "INSERT INTO closures (dates) VALUES (daterange($1::date, $1::date + 1))", d
        )
    keys: dict[uuid.UUID, str] = {}
    for key, s in sc["specialists"].items():
        sid = await conn.fetchval(
            "INSERT INTO specialists (name, email, timezone, buffer_minutes, active) "
            "VALUES ($1, 'x@y.test', $2, $3, $4) RETURNING id",
            key,
            s.zone,
            s.buffer,
            s.active,
        )
        keys[sid] = key
        await conn.execute("INSERT INTO calendar_specialists VALUES ($1, $2)", cal_id, sid)
        for dow, ivs in s.weekly.items():
            for a, b in ivs:
                await conn.execute(
                    "INSERT INTO weekly_intervals VALUES ($1, $2, $3::text::time, $4::text::time)",
                    sid,
                    dow,
                    a,
                    b,
                )
        for d, ivs in s.overrides.items():
            oid = await conn.fetchval(
                "INSERT INTO date_overrides (specialist_id, dates, kind, reason) VALUES "
                "($1, daterange($2::date, $2::date + 1), $3, $4) RETURNING id",
                sid,
                d,
                "custom_hours" if ivs else "unavailable",
                None if ivs else "other",
            )
            for a, b in ivs:
                await conn.execute(
                    "INSERT INTO override_intervals VALUES ($1, $2::text::time, $3::text::time)",
                    oid,
                    a,
                    b,
                )
        for start, length, status, expires in s.appointments:
            end = start + timedelta(minutes=length)
            await conn.execute(
                """INSERT INTO appointments (calendar_id, specialist_id, status, starts_at,
                       ends_at, blocking, hold_expires_at, hold_token_hash)
                   VALUES ($1, $2, $3, $4, $5, tstzrange($4, $6), $7, $8)""",
                cal_id,
                sid,
                status,
                start,
                end,
                end + timedelta(minutes=s.buffer),
                expires,
                os.urandom(8) if status == "held" else None,
            )
    rows = await conn.fetch(
        "SELECT * FROM available_slots($1, $2, $3, $4)", cal_id, sc["from"], sc["to"], sc["now"]
    )
    slots = {(r["slot_start"], keys[r["specialist_id"]]) for r in rows}
    # Point mode at a few of the slots found and at a few instants of the range.
    instants = sorted({t for t, _ in slots})[:4] + sc["probes"]
    points: dict[datetime, set[tuple[str, bool]]] = {}
    for t in instants:
        at = await conn.fetch("SELECT * FROM slot_at($1, $2, $3)", cal_id, t, sc["now"])
        points[t] = {(keys[r["specialist_id"]], r["free"]) for r in at}
    return slots, points


@pytest.mark.slow
@settings(
    max_examples=int(os.environ.get("CAREBOOK_PROPERTY_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(sc=scenarios())
async def test_engine_equals_reference(clinic, sc):
    conn = await asyncpg.connect(DATABASE_URL)
    try:
        engine: set[Any] = set()
        points: dict[datetime, set[tuple[str, bool]]] = {}
        try:
            async with conn.transaction():  # every example rolls back: the clinic stays clean
                await conn.execute(f'SET LOCAL search_path TO "{clinic.tenant.schema}", public')
                engine, points = await _engine_slots(conn, clinic.tenant.schema, sc)
                raise _Rollback
        except _Rollback:
            pass
    finally:
        await conn.close()
    expected = reference_slots(
        sc["cal"],
        sc["specialists"],
        sc["clinic_zone"],
        sc["closures"],
        sc["from"],
        sc["to"],
        sc["now"],
    )
    event("has slots" if expected else "no slots")
    assert engine == expected, (sorted(engine - expected)[:5], sorted(expected - engine)[:5])
    # Point mode: slot_at(t) is the reference at t alone — who has t as a slot by every rule
    # but rule 6 (free or not), and who is free.
    unblocked = {k: replace(s, appointments=[]) for k, s in sc["specialists"].items()}
    for t, got in points.items():
        args = (sc["clinic_zone"], sc["closures"], t, t + timedelta(minutes=1), sc["now"])
        free = {k for _, k in reference_slots(sc["cal"], sc["specialists"], *args)}
        slot = {k for _, k in reference_slots(sc["cal"], unblocked, *args)}
        assert got == {(k, k in free) for k in slot}, (t, got, slot, free)
    event("point mode: slot found" if any(points.values()) else "point mode: no slot")
