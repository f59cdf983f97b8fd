"""Live-update events of holds and bookings (no patient data, ever)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from carebook.events.outbox import SLOT_BOOKED, SLOT_HELD, SLOT_RELEASED, publish

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
    return await publish(
        conn,
        type_,
        specialist_id,
        {
            "specialist_id": str(specialist_id),
            "calendar_id": str(calendar_id),
            "start": start.astimezone(UTC).isoformat(),
            "end": end.astimezone(UTC).isoformat(),
            "buffer_minutes": buffer_minutes,
        },
    )


async def slot_released(conn: asyncpg.Connection, row: asyncpg.Record) -> int:
    """``slot.released`` for an appointments row (calendar_id, specialist_id, starts, ends)."""
    return await slot_event(
        conn, SLOT_RELEASED, row["calendar_id"], row["specialist_id"], row["starts_at"],
        row["ends_at"],
    )  # fmt: skip
