"""Bookable slots: thin Python edges around the SQL engine ``available_slots()``.

The engine (``sql/tenant/0015_availability_engine.sql``) does all the work in one statement;
this module only turns local dates into instants, groups rows by the viewer's local date and
answers "is this instant a slot?" for the bookings domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import asyncpg

from carebook.errors import NotFound, ValidationFailed
from carebook.tenancy import Tenant, tenant_tx
from carebook.zones import first_instant, valid_zone

MAX_RANGE_DAYS = 62

# Formatting happens in PostgreSQL under ``SET LOCAL TimeZone`` (the viewer's zone): a few
# thousand slots are rendered far faster there than with zoneinfo + isoformat in Python.
ISO_LOCAL = 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM'
SLOTS_SQL = f"""
SELECT to_char(s.slot_start, 'YYYY-MM-DD') AS day,
       to_char(s.slot_start, '{ISO_LOCAL}') AS start,
       to_char(s.slot_end, '{ISO_LOCAL}') AS end,
       array_agg(s.specialist_id::text ORDER BY s.specialist_id) AS ids
FROM available_slots($1, $2, $3, $4, $5) s
GROUP BY s.slot_start, s.slot_end
ORDER BY s.slot_start
"""


# Clinic closures (local dates of the clinic's zone) that overlap each viewer-local day of
# the range, with their reasons. Runs under the viewer's TimeZone like SLOTS_SQL.
CLOSED_DAYS_SQL = """
SELECT d::date AS day,
       coalesce(string_agg(DISTINCT nullif(btrim(c.reason), ''), '; '), '') AS reason
FROM generate_series($1::date, $2::date, interval '1 day') d
JOIN closures c
  ON c.dates && daterange($1::date - 2, $2::date + 3)
 AND tstzrange(lower(c.dates)::timestamp AT TIME ZONE $3, upper(c.dates)::timestamp AT TIME ZONE $3)
  && tstzrange(d::timestamp AT TIME ZONE $4, (d + interval '1 day')::timestamp AT TIME ZONE $4)
GROUP BY d
"""


@dataclass(frozen=True)
class Slot:
    """One start with every specialist free then; times are ISO 8601 with the viewer's offset."""

    start: str
    end: str
    specialist_ids: list[str]


@dataclass(frozen=True)
class DaySlots:
    date: date
    slots: list[Slot]
    closed: str | None = None  # a clinic closure overlaps the day: its reason ("" if none)


@dataclass(frozen=True)
class SlotsResult:
    calendar_id: UUID
    timezone: str
    duration_minutes: int
    days: list[DaySlots]


async def calendar_duration(conn: asyncpg.Connection, calendar_id: UUID) -> int:
    """The duration of an active calendar, or 404."""
    duration: int | None = await conn.fetchval(
        "SELECT duration_minutes FROM calendars WHERE id = $1 AND active", calendar_id
    )
    if duration is None:
        raise NotFound("No such calendar.", code="calendar_not_found")
    return duration


async def available_slots(
    tenant: Tenant,
    calendar_id: UUID,
    start: date,
    end: date,
    tz: str | None,
    specialist_id: UUID | None,
    now: datetime,
) -> SlotsResult:
    """Slots of a calendar whose start falls on local dates ``start``…``end`` of ``tz``.

    Every date of the range is listed, with an empty list when it has no slots, and with
    ``closed`` (the reason, or "") when a clinic closure overlaps that local day.
    """
    zone_name = tz or tenant.timezone
    zone = valid_zone(zone_name, "tz")
    if end < start:
        raise ValidationFailed.field("end", "'end' is before 'start'.", code="invalid_range")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ValidationFailed.field(
            "end", f"At most {MAX_RANGE_DAYS} days per request.", code="range_too_long"
        )
    window_from = first_instant(start, zone)
    window_to = first_instant(end + timedelta(days=1), zone)
    async with tenant_tx(tenant) as conn:
        duration = await calendar_duration(conn, calendar_id)
        if specialist_id is not None and not await conn.fetchval(
            "SELECT 1 FROM specialists WHERE id = $1", specialist_id
        ):
            raise NotFound("There is no such specialist.", code="specialist_not_found")
        await conn.execute("SELECT set_config('TimeZone', $1, true)", zone_name)
        rows = await conn.fetch(SLOTS_SQL, calendar_id, window_from, window_to, now, specialist_id)
        closed = {
            r["day"]: r["reason"]
            for r in await conn.fetch(CLOSED_DAYS_SQL, start, end, tenant.timezone, zone_name)
        }
    by_day: dict[str, list[Slot]] = {}
    for row in rows:
        by_day.setdefault(row["day"], []).append(Slot(row["start"], row["end"], row["ids"]))
    dates = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    days = [DaySlots(d, by_day.get(d.isoformat(), []), closed.get(d)) for d in dates]
    return SlotsResult(calendar_id, zone_name, duration, days)


SlotState = Literal["free", "taken", "not_a_slot"]


async def slot_status(
    conn: asyncpg.Connection,
    calendar_id: UUID,
    start: datetime,
    specialist_id: UUID | None,
    now: datetime,
) -> tuple[SlotState, list[UUID]]:
    """Is ``start`` a slot of the calendar right now? For the hold path (422 vs 409).

    Returns ``("free", ids)`` with the specialists free at ``start`` (sorted), ``("taken", [])``
    when it is a slot but every candidate is blocked, ``("not_a_slot", [])`` otherwise.
    Runs on the caller's tenant connection (its transaction and snapshot).
    """
    rows: list[Any] = await conn.fetch(
        "SELECT specialist_id, free FROM slot_at($1, $2, $3, $4) ORDER BY specialist_id",
        calendar_id,
        start,
        now,
        specialist_id,
    )  # the engine's point mode: one call, the rows that can matter for ``start`` only
    if not rows:
        return "not_a_slot", []
    free = [r["specialist_id"] for r in rows if r["free"]]
    return ("free", free) if free else ("taken", [])
