"""Catching a reconnecting stream up from the outbox table (``Last-Event-ID``)."""

from __future__ import annotations

from carebook.events.subscriber import Event, Subscriber
from carebook.tenancy import tenant_tx

# Rows that may concern the calendar: its specialists, clinic-wide rows, and calendar edits.
# The exact rule (Subscriber.wants) is applied in Python afterwards.
_MISSED = """
SELECT id, type, specialist_id, data FROM events
WHERE id > $1 AND id <= $2
  AND (specialist_id IS NULL OR specialist_id = ANY($3::uuid[]) OR data->>'calendar_id' = $5)
ORDER BY id
LIMIT $4
"""


def parse_last_event_id(raw: str | None) -> int | None:
    """The client's cursor; ``-1`` (always resync) for anything we cannot have sent."""
    if raw is None or raw.strip() == "":
        return None
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return -1
    return int(raw)


async def missed_events(sub: Subscriber, last_seen: int) -> list[Event]:
    """The events after ``last_seen`` (up to the subscriber's ``start_id``), or a ``resync``.

    A ``resync`` (carrying ``start_id``) is returned when the client's id was never issued,
    when any event after it was pruned (``last_seen < pruned_through``, exact), or when it
    is so far behind that replaying would overflow the stream's queue anyway.
    """
    if last_seen < 0:
        return [Event.resync(sub.start_id)]
    if last_seen >= sub.start_id:
        # The client may be ahead of this process (it saw the event through another one);
        # the live queue brings the rest and the stream skips what the client has.
        return (
            []
            if last_seen == sub.start_id or await _issued(sub, last_seen)
            else [Event.resync(sub.start_id)]
        )
    async with tenant_tx(sub.schema) as conn:
        # Rows first, watermark second: a prune committing in between makes us resync
        # needlessly, never miss a row (the reverse order could).
        rows = await conn.fetch(
            _MISSED,
            last_seen,
            sub.start_id,
            list(sub.specialists),
            sub.queue_size + 1,
            str(sub.calendar_id),
        )
        pruned_through = await conn.fetchval("SELECT pruned_through FROM events_pruned")
    if last_seen < (pruned_through or 0) or len(rows) > sub.queue_size:
        return [Event.resync(sub.start_id)]
    return [e for e in map(Event.from_row, rows) if sub.wants(e)]


async def _issued(sub: Subscriber, event_id: int) -> bool:
    """Whether the clinic's sequence has reached ``event_id`` (else it is not one of ours)."""
    async with tenant_tx(sub.schema) as conn:
        row = await conn.fetchrow("SELECT last_value, is_called FROM events_id_seq")
    return row is not None and bool(row["is_called"]) and event_id <= int(row["last_value"])
