"""Live-update events of holds and bookings (no patient data, ever).

The event's shape is the SQL function ``publish_slot_event()`` (bookings/sql/tenant/0024),
which ``hold_slot()``/``book_hold()`` call in SQL; Python callers go through it too.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from carebook.events.outbox import SLOT_BOOKED, SLOT_HELD, SLOT_RELEASED

__all__ = ["SLOT_BOOKED", "SLOT_HELD", "SLOT_RELEASED", "slot_event", "slot_released"]


async def slot_event(
    conn: asyncpg.Connection,
    type_: str,
    calendar_id: UUID,
    specialist_id: UUID,
    start: datetime,
    end: datetime,
    buffer_minutes: int = 0,
) -> int:
    """Publish a slot event; call it inside the transaction that made the change, last.

    ``buffer_minutes`` lets a page hide the slots that the specialist's buffer blocks too.
    """
    if type_ not in (SLOT_HELD, SLOT_BOOKED, SLOT_RELEASED):
        raise ValueError(f"not a slot event: {type_!r}")
    event_id: int = await conn.fetchval(
        "SELECT publish_slot_event($1, $2, $3, $4, $5, $6)",
        type_, calendar_id, specialist_id, start, end, buffer_minutes,
    )  # fmt: skip
    return event_id


async def slot_released(conn: asyncpg.Connection, row: asyncpg.Record) -> int:
    """``slot.released`` for an appointments row (calendar_id, specialist_id, starts, ends)."""
    return await slot_event(
        conn, SLOT_RELEASED, row["calendar_id"], row["specialist_id"], row["starts_at"],
        row["ends_at"],
    )  # fmt: skip
