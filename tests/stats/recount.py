"""Brute-force recounts over the raw tables, to hold the rollups against."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

import asyncpg

RECOUNT = """
SELECT (a.starts_at AT TIME ZONE $1)::date AS day, a.calendar_id, a.specialist_id,
       count(*) AS booked,
       count(*) FILTER (WHERE a.status = 'done') AS completed,
       count(*) FILTER (WHERE a.status = 'cancelled') AS cancelled,
       count(*) FILTER (WHERE a.status = 'no_show') AS no_show,
       coalesce(sum(extract(epoch FROM a.ends_at - a.starts_at) / 60)
                FILTER (WHERE a.status <> 'cancelled'), 0)::bigint AS booked_minutes,
       coalesce(sum(r.rating), 0) AS rating_sum, count(r.id) AS rating_count
FROM appointments a LEFT JOIN reviews r ON r.appointment_id = a.id
WHERE a.status IN ('booked', 'upcoming', 'confirmed', 'in_progress', 'done', 'cancelled',
                   'no_show')
GROUP BY 1, 2, 3
"""
KEYS = ("booked", "completed", "cancelled", "no_show", "booked_minutes", "rating_sum",
        "rating_count")  # fmt: skip


async def recount(conn: asyncpg.Connection, zone: str) -> dict[tuple[Any, ...], tuple[int, ...]]:
    rows = await conn.fetch(RECOUNT, zone)
    return {(r["day"], r["calendar_id"], r["specialist_id"]): tuple(int(r[k]) for k in KEYS)
            for r in rows}  # fmt: skip


async def rollup(conn: asyncpg.Connection) -> dict[tuple[Any, ...], tuple[int, ...]]:
    rows = await conn.fetch("SELECT * FROM stats_daily")
    out = {(r["day"], r["calendar_id"], r["specialist_id"]): tuple(int(r[k]) for k in KEYS)
           for r in rows}  # fmt: skip
    return {k: v for k, v in out.items() if any(v)}


def totals(
    counts: dict[tuple[Any, ...], tuple[int, ...]],
    start: date,
    end: date,
    specialist: UUID | None = None,
    calendar: UUID | None = None,
) -> dict[str, int]:
    sums = [0] * len(KEYS)
    for (day, cal, spec), values in counts.items():
        if start <= day <= end and specialist in (None, spec) and calendar in (None, cal):
            sums = [a + b for a, b in zip(sums, values, strict=True)]
    return dict(zip(KEYS, sums, strict=True))


async def monthly(conn: asyncpg.Connection) -> dict[tuple[Any, ...], tuple[int, ...]]:
    rows = await conn.fetch("SELECT * FROM stats_monthly")
    out = {(r["month"], r["calendar_id"], r["specialist_id"]): tuple(int(r[k]) for k in KEYS)
           for r in rows}  # fmt: skip
    return {k: v for k, v in out.items() if any(v)}


def by_month(
    counts: dict[tuple[Any, ...], tuple[int, ...]],
) -> dict[tuple[Any, ...], tuple[int, ...]]:
    out: dict[tuple[Any, ...], tuple[int, ...]] = {}
    for (day, cal, spec), values in counts.items():
        key = (day.replace(day=1), cal, spec)
        old = out.get(key, (0,) * len(KEYS))
        out[key] = tuple(a + b for a, b in zip(old, values, strict=True))
    return {k: v for k, v in out.items() if any(v)}


async def offered_recount(
    conn: asyncpg.Connection,
    zone: str,
    start: date,
    end: date,
    specialist: UUID | None,
    calendar: UUID | None,
) -> int:
    """Offered minutes asked of the engine one local day at a time (its "now" at the day's
    start minus the notice, so no rule but the schedules limits the day)."""
    return int(await conn.fetchval(
        """SELECT coalesce(sum(m), 0) FROM (
               SELECT (SELECT sum(extract(epoch FROM upper(x) - lower(x))) / 60
                       FROM unnest(range_agg(tstzrange(s.slot_start, s.slot_end))) x) AS m
               FROM calendars c
               CROSS JOIN generate_series($2::date, $3::date, interval '1 day') d
               CROSS JOIN LATERAL available_slots(
                   c.id, d::date::timestamp AT TIME ZONE $1,
                   (d::date + 1)::timestamp AT TIME ZONE $1,
                   (d::date::timestamp AT TIME ZONE $1)
                       - make_interval(mins => c.min_notice_minutes),
                   NULL, true) s
               WHERE ($5::uuid IS NULL OR c.id = $5) AND ($4::uuid IS NULL OR s.specialist_id = $4)
               GROUP BY c.id, d, s.specialist_id) per_day""",
        zone, start, end, specialist, calendar,
    ))  # fmt: skip
