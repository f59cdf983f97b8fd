"""Slots documents kept per process while they are provably current (issue 18).

Every open booking page refetches slots when a live event says so (``slot.released``: the
day; ``availability.changed``, ``resync``: the whole range), so one cancellation can make a
thousand pages ask for the same document within a second. The engine's answer depends only
on the request, on the clinic's data and on the clock, so a document is reused while:

* the clinic's newest event id (``clinic_event_head()``) has not moved — every change of
  availability publishes an event in its own transaction (docs/live-updates.md), and the
  head is read *before* the document is built, so a document is never filed under a version
  newer than what it saw;
* no hold has lapsed since (``next_hold_expiry()``: a lapsed hold stops blocking at once,
  before the sweeper expires it and publishes ``slot.released``);
* the clock has not reached the first slot's start minus the calendar's notice (rule 5: that
  slot would no longer be offered), and the requested range ends inside the booking horizon
  (beyond it, slots appear as the clock moves: such documents are not kept);
* at most ``TTL_SECONDS`` have passed — a bound for changes made outside Carebook's own
  functions (hand-written SQL), which publish no event.

One round trip (``slots_cache_state_in()``) decides; concurrent requests for a document not
yet built share one build. Entries are bounded in bytes (``CAREBOOK_SLOTS_CACHE_MB``,
default 32; 0 turns the cache off), least recently used first out, per event loop.
"""

from __future__ import annotations

import asyncio
import os
import re
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from carebook import metrics

TTL_SECONDS = 30.0
_FIRST_START = re.compile(rb'"start" ?: ?"([^"]+)"')

Key = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class State:
    """``slots_cache_state_in()``'s row: what the calendar's documents depend on now."""

    head: int
    next_hold_expiry: datetime | None
    min_notice_minutes: int
    horizon_days: int


@dataclass(frozen=True, slots=True)
class _Entry:
    head: int
    built_at: datetime  # the request's clock when it was built: valid from then …
    valid_until: datetime  # … until this instant (exclusive)
    document: bytes


def valid_until(state: State, document: bytes, now: datetime, range_end: datetime) -> datetime:
    """Until when ``document`` (built at ``now`` after reading ``state``) stays the answer."""
    if range_end > now + timedelta(days=state.horizon_days):
        return now  # the horizon cuts the range: new slots appear as the clock moves
    until = now + timedelta(seconds=TTL_SECONDS)
    if state.next_hold_expiry is not None:
        until = min(until, state.next_hold_expiry)
    # Days and their slots are in time order: the first "start" is the earliest slot.
    if (first := _FIRST_START.search(document)) is not None:
        first_start = datetime.fromisoformat(first.group(1).decode())
        until = min(until, first_start - timedelta(minutes=state.min_notice_minutes))
    return until


class SlotsCache:
    """Documents by request key, each with the clinic version and clock interval it holds for."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        self._building: dict[tuple[Key, int], asyncio.Task[bytes]] = {}

    def get(self, key: Key, head: int, now: datetime) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None or entry.head != head or not entry.built_at <= now < entry.valid_until:
            return None
        self._entries.move_to_end(key)
        return entry.document

    def put(self, key: Key, entry: _Entry) -> None:
        if len(entry.document) > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.size -= len(old.document)
        self._entries[key] = entry
        self.size += len(entry.document)
        while self.size > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self.size -= len(dropped.document)

    async def document(
        self,
        key: Key,
        state: State,
        now: datetime,
        range_end: datetime,
        build: Callable[[], Awaitable[bytes]],
    ) -> bytes:
        """The cached document for ``key`` at ``state``, else ``build()``'s (shared with
        concurrent callers of the same key and version, and kept while it is current)."""
        if (hit := self.get(key, state.head, now)) is not None:
            metrics.SLOTS_CACHE.labels("hit").inc()
            return hit
        flight = (key, state.head)
        task = self._building.get(flight)
        if task is not None:
            metrics.SLOTS_CACHE.labels("shared").inc()
            document = await asyncio.shield(task)
            if self.get(key, state.head, now) is document:
                return document
            # Not kept, or not the answer at our clock (built at a later one): build our own.
        metrics.SLOTS_CACHE.labels("miss").inc()

        async def build_and_keep() -> bytes:
            document = await build()
            until = valid_until(state, document, now, range_end)
            if until > now:
                self.put(key, _Entry(state.head, now, until, document))
            return document

        task = asyncio.ensure_future(build_and_keep())
        self._building[flight] = task

        def done(finished: asyncio.Task[bytes]) -> None:
            if self._building.get(flight) is finished:
                del self._building[flight]
            if not finished.cancelled():
                finished.exception()  # retrieved: raised to whoever awaits it, if anyone

        task.add_done_callback(done)
        return await asyncio.shield(task)


_caches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SlotsCache] = (
    weakref.WeakKeyDictionary()
)


def cache_bytes() -> int:
    return int(float(os.environ.get("CAREBOOK_SLOTS_CACHE_MB") or 32) * 1024 * 1024)


def slots_cache() -> SlotsCache | None:
    """This event loop's cache (None when turned off)."""
    size = cache_bytes()
    if size <= 0:
        return None
    loop = asyncio.get_running_loop()
    cache = _caches.get(loop)
    if cache is None or cache.max_bytes != size:
        cache = _caches[loop] = SlotsCache(size)
    return cache
