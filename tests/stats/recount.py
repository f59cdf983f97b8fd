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
