"""Writing live-update events: call ``publish`` inside the transaction that makes the change."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import asyncpg

NOTIFY_CHANNEL = "carebook_events"
_LOCK_CLASS = 0x0CA8E  # first key of the two-key advisory lock; the second is the schema

# Event types (scheduling spec §7). No patient data may ever go into ``data``.
SLOT_HELD = "slot.held"
SLOT_BOOKED = "slot.booked"
SLOT_RELEASED = "slot.released"
AVAILABILITY_CHANGED = "availability.changed"


async def publish(
    conn: asyncpg.Connection,
    type_: str,
    specialist_id: UUID | None,
    data: dict[str, Any] | None = None,
) -> int:
    """Append an event to the clinic's outbox; returns its id.

    The advisory lock is held until commit, so ids of one clinic become visible in
    increasing order and a reader's "after id N" cursor never skips a late commit.
    Call it as the last statement of the transaction to keep that window short.
    """
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))", _LOCK_CLASS)
    event_id: int = await conn.fetchval(
        "INSERT INTO events (type, specialist_id, data) VALUES ($1, $2, $3::jsonb) RETURNING id",
        type_,
        specialist_id,
        json.dumps(data or {}, default=str),
    )
    return event_id
