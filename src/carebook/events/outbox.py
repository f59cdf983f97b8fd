"""Writing live-update events: call ``publish`` inside the transaction that makes the change.

Ordering: ``publish`` takes a per-clinic transaction-level advisory lock *before* the id is
drawn from the sequence and holds it until commit. PostgreSQL makes a commit visible before
it releases the transaction's locks, so the next writer of the same clinic draws its id only
after the previous writer's row is visible. Hence, per clinic, ids become visible in
increasing order: once id N is visible, every smaller id is either visible or was rolled
back. Readers can therefore use "everything after id N" as a cursor without ever skipping a
late commit. The price is that publishing transactions of one clinic serialise from their
``publish`` call to their commit, which is why ``publish`` must be the last statement.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import asyncpg

NOTIFY_CHANNEL = "carebook_events"
# The SQL function publish_event() (carebook/sql/tenant/0023) takes the two-key advisory lock
# (0x0CA8E, hashtext(schema)) and inserts the row: one round trip.

# Event types (scheduling spec §7). No patient data may ever go into ``data``.
SLOT_HELD = "slot.held"
SLOT_BOOKED = "slot.booked"
SLOT_RELEASED = "slot.released"
AVAILABILITY_CHANGED = "availability.changed"
EVENT_TYPES = frozenset({SLOT_HELD, SLOT_BOOKED, SLOT_RELEASED, AVAILABILITY_CHANGED})
# Staff-only events (published in SQL by the lifecycle; never sent on public streams):
# {appointment_id, status, version, calendar_id, specialist_id, start, end}, no patient data.
APPOINTMENT_CHANGED = "appointment.changed"
STAFF_EVENT_TYPES = frozenset({APPOINTMENT_CHANGED})

# The only keys an event's ``data`` may carry. Everything in ``data`` is sent to anonymous
# browsers, so the list is closed: a new key is a deliberate, reviewed change.
PUBLIC_DATA_KEYS = frozenset({"specialist_id", "calendar_id", "start", "end", "buffer_minutes"})


async def publish(
    conn: asyncpg.Connection,
    type_: str,
    specialist_id: UUID | None,
    data: dict[str, Any] | None = None,
) -> int:
    """Append an event to the clinic's outbox; returns its id.

    Routing (who receives it): an event with a ``specialist_id`` goes to the streams of every
    calendar that specialist is assigned to; ``availability.changed`` with
    ``data["calendar_id"]`` goes to that calendar's streams only (use it for calendar edits,
    including specialist assignment, which also refreshes the streams' specialist sets);
    an event with neither (e.g. a clinic closure) goes to every stream of the clinic.

    The advisory lock is held until commit, so ids of one clinic become visible in
    increasing order and a reader's "after id N" cursor never skips a late commit.
    Call it as the last statement of the transaction to keep that window short.

    Raises ``ValueError`` for an unknown type or a ``data`` key outside ``PUBLIC_DATA_KEYS``.
    """
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type_!r}")
    payload = data or {}
    if extra := set(payload) - PUBLIC_DATA_KEYS:
        raise ValueError(
            f"event data keys {sorted(extra)} are not public; allowed: {sorted(PUBLIC_DATA_KEYS)}"
        )
    event_id: int = await conn.fetchval(
        "SELECT publish_event($1, $2, $3::jsonb)",
        type_,
        specialist_id,
        json.dumps(payload, default=str),
    )
    return event_id
