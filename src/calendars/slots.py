"""Bookable slots: thin Python edges around the SQL engine ``available_slots()``.

The engine (``sql/tenant/0050_engine_point_mode.sql``) does all the work in one statement and
``slots_document()`` (``0150_slots_document.sql``) wraps it into the endpoint's JSON; this
module only validates the request, turns local dates into instants and answers "is this
instant a slot?" for the bookings domain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import asyncpg
import msgspec

from calendars.schemas import SlotsOut
from calendars.slots_cache import Answer, State, compose, slots_cache
from carebook.errors import NotFound, ValidationFailed
from carebook.tenancy import Tenant, call_in_schema
from carebook.zones import first_instant, valid_zone

MAX_RANGE_DAYS = 62

# The whole response document is built by the clinic-schema function slots_document()
# (sql/tenant/0150_slots_document.sql): engine, grouping by the viewer's local date, closures
# and JSON in one statement, one round trip; its bytes go to the client untouched.
_SLOTS_DOCUMENT = (
    "SELECT missing, document FROM public.slots_document_in("
    "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
)
_PIECES = "SELECT * FROM public.slot_pieces_in($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
_MISSING = {
    "calendar_not_found": lambda: NotFound("No such calendar.", code="calendar_not_found"),
    "specialist_not_found": lambda: NotFound(
        "There is no such specialist.", code="specialist_not_found"
    ),
}


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


async def slots_document(
    tenant: Tenant,
    calendar_id: UUID,
    start: date,
    end: date,
    tz: str | None,
    specialist_id: UUID | None,
    now: datetime,
) -> bytes:
    """The slots endpoint's JSON body (``SlotsOut``), as PostgreSQL wrote it.

    Slots of a calendar whose start falls on local dates ``start``…``end`` of ``tz`` (default:
    the clinic's zone). Every date of the range is listed, with an empty list when it has no
    slots, and with ``closed`` (the reason, or "") when a clinic closure overlaps that day.
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

    async def build() -> bytes:
        [row] = await call_in_schema(
            tenant, _SLOTS_DOCUMENT, calendar_id, start, end, zone_name, window_from,
            window_to, now, specialist_id, tenant.timezone,
        )  # fmt: skip
        if row["missing"] is not None:
            raise _MISSING[row["missing"]]()
        document: bytes = row["document"]
        return document

    cache = slots_cache()
    if cache is None:
        return await build()

    # The first instant of each date and of the day after the last: a day spans [edge, next).
    dates = [start + timedelta(days=i) for i in range((end - start).days + 2)]
    edges = [first_instant(d, zone).astimezone(UTC) for d in dates]
    days = list(zip(dates[:-1], edges[:-1], edges[1:], strict=True))

    async def ask(heads: Sequence[int | None], range_bound: bool) -> Answer | None:
        rows = await call_in_schema(
            tenant, _PIECES, calendar_id, now, start, zone_name, edges, specialist_id,
            tenant.timezone, list(heads), range_bound,
        )  # fmt: skip
        if not rows:
            return None
        built = []
        for r in rows[1:]:
            if r["missing"] is not None:
                raise _MISSING[r["missing"]]()
            built.append((r["day"], r["piece"].encode()))
        return Answer(State.from_row(rows[0]), frozenset(rows[0]["stale"]), built)

    base = (tenant.schema, tenant.timezone, calendar_id, zone_name, specialist_id)
    document = await cache.document(
        base,
        days,
        now,
        ask,
        lambda duration, bodies: compose(calendar_id, zone_name, duration, bodies),
    )
    return document if document is not None else await build()  # no such calendar: say which


async def available_slots(
    tenant: Tenant,
    calendar_id: UUID,
    start: date,
    end: date,
    tz: str | None,
    specialist_id: UUID | None,
    now: datetime,
) -> SlotsResult:
    """``slots_document()`` as values, for server-rendered pages."""
    raw = await slots_document(tenant, calendar_id, start, end, tz, specialist_id, now)
    doc = msgspec.json.decode(raw, type=SlotsOut)
    days = [
        DaySlots(
            date.fromisoformat(d.date),
            [Slot(s.start, s.end, s.specialist_ids) for s in d.slots],
            d.closed,
        )
        for d in doc.days
    ]
    return SlotsResult(doc.calendar_id, doc.timezone, doc.duration_minutes, days)


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
