"""Statistics over any period: read from the rollups the lifecycle keeps (sql/tenant/0090).

Offered time comes from the availability engine (filled on first use per calendar and day,
``stats_fill_offered()``); everything else is summed from ``stats_daily``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from functools import cache
from typing import Any
from uuid import UUID

import asyncpg

from carebook.errors import Forbidden, ValidationFailed
from carebook.sqlfiles import sql
from stats.schemas import Figures, GroupFigures, StatisticsOut
from tenants.staff import StaffPrincipal

MAX_DAYS = 3 * 366


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def figures(row: Mapping[str, Any] | None) -> Figures:
    def get(key: str) -> int:
        return int(row[key]) if row is not None else 0

    booked, minutes, offered = get("booked"), get("booked_minutes"), get("offered_minutes")
    ratings = get("rating_count")
    return Figures(
        booked=booked,
        completed=get("completed"),
        cancelled=get("cancelled"),
        no_show=get("no_show"),
        cancellation_rate=_ratio(get("cancelled"), booked),
        no_show_rate=_ratio(get("no_show"), booked),
        average_rating=round(get("rating_sum") / ratings, 2) if ratings else None,
        rating_count=ratings,
        booked_minutes=minutes,
        offered_minutes=offered,
        utilisation=_ratio(minutes, offered),
    )


async def visible_specialist(
    conn: asyncpg.Connection, staff: StaffPrincipal, wanted: UUID | None
) -> UUID | None:
    """Admins and receptionists see the clinic; a specialist only their own figures."""
    if staff.sees_all_appointments:
        return wanted
    own: UUID | None = await conn.fetchval(
        "SELECT id FROM specialists WHERE staff_user = $1", staff.id
    )
    if own is None or wanted not in (None, own):
        raise Forbidden("Specialists see only their own statistics.", code="not_your_statistics")
    return own


async def statistics(
    conn: asyncpg.Connection,
    timezone: str,
    start: date,
    end: date,
    specialist_id: UUID | None = None,
    calendar_id: UUID | None = None,
    group_by: str | None = None,
) -> StatisticsOut:
    if end < start:
        raise ValidationFailed.field("to", "'to' is before 'from'.", code="invalid_range")
    if (end - start).days >= MAX_DAYS:
        raise ValidationFailed.field("to", "At most 3 years at once.", code="invalid_range")
    # Offered time of the calendars in scope, computed where missing (one round trip).
    await conn.execute(
        """SELECT stats_fill_offered(ARRAY(
               SELECT c.id FROM calendars c
               WHERE ($3::uuid IS NULL OR c.id = $3)
                 AND ($4::uuid IS NULL OR EXISTS (
                     SELECT 1 FROM calendar_specialists cs
                     WHERE cs.calendar_id = c.id AND cs.specialist_id = $4))), $1, $2)""",
        start, end, calendar_id, specialist_id,
    )  # fmt: skip
    query = _query(specialist_id is not None, calendar_id is not None, group_by)
    rows = await conn.fetch(query, start, end, specialist_id, calendar_id, *month_split(start, end))
    total = figures(rows[0] if rows else None) if not group_by else figures(_sum_rows(rows))
    groups = (
        [GroupFigures(r["key"], figures(r)) for r in rows if r["key"] is not None]
        if group_by
        else None
    )
    return StatisticsOut(start, end, timezone, specialist_id, calendar_id, total, groups)


def month_split(start: date, end: date) -> tuple[date, date, date, date]:
    """(last day of the head, first day of the tail, first whole month, end of whole months):
    the days [start, head] and [tail, end] are read day by day, the months in between whole."""
    first = start if start.day == 1 else (start.replace(day=1) + timedelta(days=32)).replace(day=1)
    after = end + timedelta(days=1)
    last = after if after.day == 1 else end.replace(day=1)
    if first >= last:  # no whole month: every day from the daily rollup
        return end, after, first, first
    return first - timedelta(days=1), last, first, last


@cache
def _query(by_specialist: bool, by_calendar: bool, group_by: str | None) -> str:
    """The statistics query for one scope: fixed SQL text per combination."""
    filters = []
    if by_specialist:
        filters.append("AND d.specialist_id = $3")
    if by_calendar:
        filters.append("AND d.calendar_id = $4")
    if not by_specialist:
        filters.append("AND $3::uuid IS NULL")  # every parameter is used in every variant
    if not by_calendar:
        filters.append("AND $4::uuid IS NULL")
    key = {"specialist": "d.specialist_id", "calendar": "d.calendar_id"}.get(
        group_by or "", "'00000000-0000-0000-0000-000000000000'::uuid"
    )
    return sql("stats", "statistics.sql").format(key=key, filter=" ".join(filters))


def _sum_rows(rows: list[asyncpg.Record]) -> dict[str, int]:
    keys = ("booked", "completed", "cancelled", "no_show", "booked_minutes", "rating_sum",
            "rating_count", "offered_minutes")  # fmt: skip
    return {k: sum(int(r[k]) for r in rows) for k in keys}
