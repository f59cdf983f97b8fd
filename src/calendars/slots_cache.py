"""Slots documents composed from days kept per process while provably current (issue 18).

Every open booking page refetches slots when a live event says so (``slot.released``: the
day; ``availability.changed``, ``resync``: the whole range), so one cancellation can make a
thousand pages ask again within a second; and pages of one calendar ask for overlapping
ranges (a week, a month, the next month). A slots document is its local days in order
(``slot_day_pieces()``), so each process keeps the *days* — a day of a calendar for a
viewer's zone and specialist choice — and composes a document from the kept days, asking the
engine only for the days it lacks (as one range). A kept day is served again while:

* no event the clinic published since it was built can touch it. Every change of
  availability publishes an event in its own transaction (docs/live-updates.md); a slot event
  (held, booked, released, appointment changed) of one of the calendar's specialists touches
  only the days around its time, every other event (schedules, overrides, closures, calendar
  and specialist edits) every day. The clinic's head is read *before* a day is built, so a day
  is never filed under a version newer than what it saw (``slot_pieces_state_in()``);
* no hold that touches the day has lapsed since (a lapsed hold stops blocking at once, before
  the sweeper expires it and publishes ``slot.released``);
* the clock has not reached the day's first slot's start minus the calendar's notice (rule 5:
  that slot would no longer be offered), the day ends inside the booking horizon (beyond it,
  slots appear as the clock moves: such days are not kept), and the clock is not earlier than
  the one the day was built at;
* at most ``TTL_SECONDS`` have passed — a bound for changes made outside Carebook's own
  functions (hand-written SQL), which publish no event.

A calendar whose specialists have hours ending at 24:00 may have windows running over
midnights from before a range's 7-day look-back; rule 7's grid then depends on the range's
first day, so its days are kept per first day of the request and built from it.

One round trip (the state) decides what is kept, one more builds what is missing; concurrent
requests that lack the same days share one build. Days are bounded in bytes
(``CAREBOOK_SLOTS_CACHE_MB``, default 32; 0 turns the cache off), least recently used first
out, per event loop. A composed document is byte for byte the one ``slots_document()`` writes
(tests/calendars/test_slots_cache.py compares them after random writes).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from carebook import metrics

TTL_SECONDS = 30.0
# What a kept day costs besides its bytes (key, entry, datetimes): counted against the budget.
PIECE_OVERHEAD = 512
_FIRST_START = re.compile(rb'"start" ?: ?"([^"]+)"')

Key = tuple[object, ...]
# A day of a request: its local date and the instants it spans, [lo, hi).
Day = tuple[date, datetime, datetime]
# What a build returns: the calendar's duration and the days' JSON objects in date order.
Built = tuple[int, list[tuple[date, bytes]]]


@dataclass(frozen=True, slots=True)
class State:
    """``slot_pieces_state_in()``'s row: what the calendar's kept days depend on now."""

    head: int
    min_notice_minutes: int
    horizon_days: int
    duration_minutes: int
    # Events after the asked id: (id, lo, hi) — they touch starts within [lo, hi]; None: all.
    changes: Sequence[tuple[int, datetime | None, datetime | None]] = ()
    # Live holds of the calendar's specialists: (lo, hi, expires_at).
    holds: Sequence[tuple[datetime, datetime, datetime]] = ()
    # Hours ending at 24:00: rule 7's grid may depend on a range's first day (see document()).
    range_bound: bool = False

    @classmethod
    def from_row(cls, row: Any) -> State:
        return cls(
            row["head"],
            row["min_notice_minutes"],
            row["horizon_days"],
            row["duration_minutes"],
            list(zip(row["change_ids"], row["change_lo"], row["change_hi"], strict=True)),
            list(zip(row["hold_lo"], row["hold_hi"], row["hold_expires"], strict=True)),
            row["range_bound"],
        )

    def touched(self, since: int, lo: datetime, hi: datetime) -> bool:
        """Did an event after id ``since`` touch starts in [lo, hi)?"""
        return any(
            i > since and (a is None or b is None or (a < hi and b >= lo))
            for i, a, b in self.changes
        )


@dataclass(slots=True)
class _Piece:
    head: int  # the clinic's version it is known current at (moves up when re-checked)
    built_at: datetime  # the request's clock when it was built: valid from then …
    valid_until: datetime  # … until this instant (exclusive)
    lo: datetime
    hi: datetime
    body: bytes


def valid_until(state: State, body: bytes, now: datetime, lo: datetime, hi: datetime) -> datetime:
    """Until when the day [lo, hi) (built at ``now`` after reading ``state``) stays the answer."""
    if hi > now + timedelta(days=state.horizon_days):
        return now  # the horizon cuts the day: new slots appear as the clock moves
    until = now + timedelta(seconds=TTL_SECONDS)
    for a, b, expires in state.holds:
        if a < hi and b >= lo:
            until = min(until, expires)
    # A day's slots are in time order: the first "start" is the earliest slot.
    if (first := _FIRST_START.search(body)) is not None:
        first_start = datetime.fromisoformat(first.group(1).decode())
        until = min(until, first_start - timedelta(minutes=state.min_notice_minutes))
    return until


def compose(calendar_id: UUID, zone: str, duration_minutes: int, days: Sequence[bytes]) -> bytes:
    """A slots document from its days: what ``slots_document()`` writes, byte for byte."""
    head = (
        f'{{"calendar_id":"{calendar_id}","timezone":{json.dumps(zone)},'
        f'"duration_minutes":{duration_minutes},"days":['
    )
    return head.encode() + b",".join(days) + b"]}"


class SlotsCache:
    """Days of slots documents, each with the clinic version and clock interval it holds for."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._pieces: OrderedDict[Key, _Piece] = OrderedDict()
        self._building: dict[Key, asyncio.Task[Built]] = {}
        self._range_bound: dict[Key, bool] = {}  # request bases whose last state said so

    def _current(self, base: Key, days: Sequence[Day], now: datetime) -> dict[date, _Piece]:
        """The kept days of the request that hold at clock ``now`` (versions not checked)."""
        found = {}
        for d, _, _ in days:
            piece = self._pieces.get((*base, d))
            if piece is not None and piece.built_at <= now < piece.valid_until:
                found[d] = piece
        return found

    def _put(self, key: Key, piece: _Piece) -> None:
        if len(piece.body) + PIECE_OVERHEAD > self.max_bytes:
            return
        self._drop(key)
        self._pieces[key] = piece
        self.size += len(piece.body) + PIECE_OVERHEAD
        while self.size > self.max_bytes:
            _, dropped = self._pieces.popitem(last=False)
            self.size -= len(dropped.body) + PIECE_OVERHEAD

    def _drop(self, key: Key) -> None:
        old = self._pieces.pop(key, None)
        if old is not None:
            self.size -= len(old.body) + PIECE_OVERHEAD

    def _checked(
        self, base: Key, kept: dict[date, _Piece], state: State, since: int | None
    ) -> dict[date, bytes]:
        """The kept days no change since their version touched, as far as ``state`` (its
        changes after id ``since``) can tell; they are re-filed at the state's version (so
        the next check reads fewer events), the others dropped."""
        bodies = {}
        for d, piece in kept.items():
            key = (*base, d)
            if piece.head < state.head and (
                since is None or piece.head < since or state.touched(piece.head, piece.lo, piece.hi)
            ):
                if self._pieces.get(key) is piece and since is not None and piece.head >= since:
                    self._drop(key)  # touched: never the answer again
                continue
            piece.head = max(piece.head, state.head)
            if key in self._pieces:
                self._pieces.move_to_end(key)
            bodies[d] = piece.body
        return bodies

    def _keep(
        self, base: Key, days: Sequence[Day], state: State, now: datetime, built: Built
    ) -> None:
        spans = {d: (lo, hi) for d, lo, hi in days}
        for d, body in built[1]:
            if d not in spans:
                continue
            lo, hi = spans[d]
            until = valid_until(state, body, now, lo, hi)
            if until > now:
                self._put((*base, d), _Piece(state.head, now, until, lo, hi, body))

    async def document(
        self,
        base: Key,
        days: Sequence[Day],
        now: datetime,
        read_state: Callable[[int | None], Awaitable[State | None]],
        build: Callable[[date, date], Awaitable[Built]],
        compose_days: Callable[[int, Sequence[bytes]], bytes],
    ) -> bytes | None:
        """The document of ``days`` (in date order) from kept days, building the missing ones
        as one range (shared with concurrent callers lacking the same days at the same
        version). None when ``read_state`` finds no active calendar (the caller's uncached
        build says why)."""
        # A range-bound calendar's days are kept per first day of the request (State).
        plain = base
        base = (*plain, days[0][0]) if self._range_bound.get(plain) else plain
        since = min((p.head for p in self._current(base, days, now).values()), default=None)
        state = await read_state(since)
        if state is None:
            return None
        if state.range_bound != self._range_bound.get(plain, False):  # learnt: key anew
            if state.range_bound:
                self._range_bound[plain] = True
            else:
                del self._range_bound[plain]
            base = (*plain, days[0][0]) if state.range_bound else plain
        # Read again after the round trip: days a concurrent request built meanwhile count.
        bodies = self._checked(base, self._current(base, days, now), state, since)
        missing = [d for d, _, _ in days if d not in bodies]
        if not missing:
            metrics.SLOTS_CACHE.labels("hit").inc()
            metrics.SLOTS_CACHE_DAYS.labels("kept").inc(len(days))
            return compose_days(state.duration_minutes, [bodies[d] for d, _, _ in days])
        # Built as one range; a range-bound calendar's from the request's first day (its
        # grid may depend on it, and the days are filed under it).
        first, last = (days[0][0] if state.range_bound else missing[0]), missing[-1]
        flight = (*base, first, last, state.head)
        task = self._building.get(flight)
        if task is not None:
            await asyncio.shield(task)
            again = {d: p for d, p in self._current(base, days, now).items() if d in missing}
            if len(again) == len(missing) and all(p.head >= state.head for p in again.values()):
                metrics.SLOTS_CACHE.labels("shared").inc()
                metrics.SLOTS_CACHE_DAYS.labels("kept").inc(len(days))
                bodies.update((d, p.body) for d, p in again.items())
                return compose_days(state.duration_minutes, [bodies[d] for d, _, _ in days])
            # Not kept, or not the answer at our clock (built at a later one): build our own.
        metrics.SLOTS_CACHE.labels("miss").inc()
        metrics.SLOTS_CACHE_DAYS.labels("kept").inc(len(days) - len(missing))
        metrics.SLOTS_CACHE_DAYS.labels("built").inc(len(missing))

        async def build_and_keep() -> Built:
            built = await build(first, last)
            self._keep(base, days, state, now, built)
            return built

        task = asyncio.ensure_future(build_and_keep())
        self._building.setdefault(flight, task)

        def done(finished: asyncio.Task[Built]) -> None:
            if self._building.get(flight) is finished:
                del self._building[flight]
            if not finished.cancelled():
                finished.exception()  # retrieved: raised to whoever awaits it, if anyone

        task.add_done_callback(done)
        duration, built_days = await asyncio.shield(task)
        bodies.update(built_days)
        return compose_days(duration, [bodies[d] for d, _, _ in days])


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
