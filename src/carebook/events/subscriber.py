"""Events as streams see them, and one subscriber (one open SSE stream) of the hub."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from carebook.events.outbox import AVAILABILITY_CHANGED, EVENT_TYPES, PUBLIC_DATA_KEYS

RESYNC = "resync"
RETRY_MS = 2000


@dataclass(frozen=True, slots=True)
class Event:
    """One outbox row, with its SSE frame encoded once for all subscribers."""

    id: int
    type: str
    specialist_id: UUID | None
    calendar_id: UUID | None  # only meaningful for availability.changed (calendar edits)
    frame: bytes
    chunk: bytes = b""  # ``frame`` as one HTTP/1.1 chunk, for direct writes (set below)

    def __post_init__(self) -> None:
        object.__setattr__(self, "chunk", http_chunk(self.frame))

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Event:
        raw = row["data"]
        data: dict[str, Any] = json.loads(raw) if isinstance(raw, str | bytes) else dict(raw)
        specialist: UUID | None = row["specialist_id"]
        calendar = _uuid(data.get("calendar_id"))
        # Only whitelisted keys leave the server, whatever was stored.
        public = {k: data[k] for k in sorted(PUBLIC_DATA_KEYS) if k in data}
        if specialist is not None:
            public["specialist_id"] = str(specialist)
        return cls(
            row["id"], row["type"], specialist, calendar, encode(row["id"], row["type"], public)
        )

    @classmethod
    def resync(cls, event_id: int) -> Event:
        """Tell the page to refetch everything; its id lets a reconnect continue after it."""
        return cls(event_id, RESYNC, None, None, encode(event_id, RESYNC, {}))


def encode(event_id: int, type_: str, data: Mapping[str, Any]) -> bytes:
    payload = json.dumps(data, separators=(",", ":"), default=str)
    return f"id: {event_id}\nevent: {type_}\ndata: {payload}\n\n".encode()


def http_chunk(data: bytes) -> bytes:
    """``data`` in HTTP/1.1 chunked transfer coding (what the server would frame it as)."""
    return b"%x\r\n%s\r\n" % (len(data), data)


# How deliveries left this process: written by the hub straight to an idle stream's
# connection, or queued for the stream's own loop (busy, replaying, or the socket full).
WRITES = {"direct": 0, "queued": 0}

# Writes one chunk to the client's connection now, without waiting; False when it cannot
# (the client is gone or its socket buffer is full), and the delivery must be queued.
DirectWriter = Callable[[bytes], bool]


def _uuid(value: Any) -> UUID | None:
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None


class _Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


CLOSE = _Sentinel("CLOSE")  # the hub is shutting down: end the stream
PING = _Sentinel("PING")  # time for a heartbeat comment
QueueItem = Event | _Sentinel


@dataclass(eq=False)
class Subscriber:
    """One stream's view of the hub: a bounded queue of events for one calendar.

    ``cursor`` is the hub's read position for the clinic at the time it last offered this
    subscriber events: when the queue is empty, every event up to ``cursor`` that concerns
    the calendar has been taken from the queue. ``sent`` is the newest id the client has been
    sent (or had already): events at or below it are not sent again.

    ``direct`` is set by the stream while it is idle (its queue empty, nothing in flight):
    the hub then writes an event straight to the connection instead of waking the stream's
    task — one synchronous ``write`` per delivery instead of a task switch, a queue round
    trip and the ASGI ``send`` chain. If the write cannot happen now, ``direct`` is dropped
    and the event is queued, so the stream's loop (which waits for the socket to drain)
    takes over, in order. While ``direct`` is set the queue stays empty.
    """

    schema: str
    calendar_id: UUID
    specialists: frozenset[UUID]
    queue_size: int
    start_id: int = 0
    cursor: int = 0
    resyncs: int = 0
    everything: bool = False  # a staff page: every event of the clinic
    sent: int = 0
    direct: DirectWriter | None = None
    queue: asyncio.Queue[QueueItem] = field(init=False)

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(self.queue_size)

    def wants(self, event: Event) -> bool:
        """Whether this calendar's page cares about ``event`` (scheduling spec §7).

        Public pages get the public event types only: staff-only events (e.g. the lifecycle's
        ``appointment.changed``) share the outbox but never reach a public stream. A staff
        stream (``everything``) gets every event of the clinic."""
        if self.everything:
            return True
        if event.type not in EVENT_TYPES:
            return False
        if event.type == AVAILABILITY_CHANGED and event.calendar_id is not None:
            return event.calendar_id == self.calendar_id
        if event.specialist_id is None:
            return True  # clinic-wide, e.g. a closure
        return event.specialist_id in self.specialists

    def offer(self, event: Event) -> None:
        """Deliver or queue ``event`` without ever blocking; on overflow, trim to a single
        ``resync``."""
        if (direct := self.direct) is not None:
            if event.id <= self.sent:
                return  # replayed already
            if self._write_direct(direct, event.chunk, event.id, 1):
                return
        WRITES["queued"] += 1
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self._trim()
            self.resyncs += 1
            self.queue.put_nowait(Event.resync(event.id))

    def _write_direct(self, direct: DirectWriter, chunk: bytes, sent: int, deliveries: int) -> bool:
        """Write ``chunk`` through the writer the idle stream lent; then the client has
        everything up to ``sent``. False when it refused: the writer is dropped, and the
        stream's own loop takes over from the queue."""
        if direct(chunk):
            self.sent = sent
            WRITES["direct"] += deliveries
            return True
        self.direct = None
        return False

    def offer_all(self, events: list[Event], chunks: dict[tuple[int, ...], bytes]) -> None:
        """``offer`` each of ``events`` (in id order), written in one go when the stream is
        idle; ``chunks`` caches the joined chunk by event ids across subscribers."""
        if (direct := self.direct) is not None:
            fresh = [event for event in events if event.id > self.sent]
            if not fresh:
                return
            key = tuple(event.id for event in fresh)
            chunk = chunks.get(key)
            if chunk is None:
                chunk = chunks[key] = http_chunk(b"".join(event.frame for event in fresh))
            if self._write_direct(direct, chunk, fresh[-1].id, len(fresh)):
                return
            events = fresh  # the client has the others: they must not take queue slots
        for event in events:
            self.offer(event)

    def ping(self) -> None:
        """Ask for a heartbeat; a full queue has plenty to send already."""
        if (direct := self.direct) is not None:
            ping, sent = self.ping_frame()
            if self._write_direct(direct, http_chunk(ping), sent, 0):
                return
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(PING)

    def ping_frame(self) -> tuple[bytes, int]:
        """A heartbeat comment, and ``sent`` after it (call only with the queue empty).

        Nothing for this calendar, but the clinic moved on: advance the client's
        Last-Event-ID (an id-only block dispatches no event) so a reconnect after a quiet
        spell does not look older than the retention. An empty queue means every event up
        to the hub's cursor has been taken from it."""
        if self.cursor > self.sent:
            return b": ping\nid: %d\n\n" % self.cursor, self.cursor
        return b": ping\n\n", self.sent

    def close(self) -> None:
        """Make the stream end after what it already has (or at once if it is full)."""
        self.direct = None
        try:
            self.queue.put_nowait(CLOSE)
        except asyncio.QueueFull:
            self._trim()
            self.queue.put_nowait(CLOSE)

    def _trim(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()
