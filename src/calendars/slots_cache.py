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
  and specialist edits) every day. The clinic's head is read in the snapshot the day is built
  in, so a day is never filed under a version newer than what it saw;
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

One round trip and one snapshot (``slot_pieces_in()``, given the versions of the kept days)
says which kept days are stale and builds those and the missing ones, as one range; the
decision is made in PostgreSQL. Requests of the same moment with the same days kept at the
same versions share one call; a call already sent is not joined (its snapshot may predate a
commit the newcomer has seen), and once it has filed its days, later requests find them.
Days are bounded in bytes (``CAREBOOK_SLOTS_CACHE_MB``, default 32; 0 turns the cache off),
least recently used first out, per event loop. A composed document is byte for byte the one
``slots_document()`` writes (tests/calendars/test_slots_cache_days.py compares them after
random writes).
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


@dataclass(frozen=True, slots=True)
class State:
    """The state row of ``slot_pieces_in()``: what the calendar's kept days depend on now."""

    head: int
    min_notice_minutes: int
    horizon_days: int
    duration_minutes: int
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
            list(zip(row["hold_lo"], row["hold_hi"], row["hold_expires"], strict=True)),
            row["range_bound"],
        )


@dataclass(frozen=True, slots=True)
class Answer:
    """``slot_pieces_in()``'s answer: the state, the kept days it found stale, and the days
    it built (each date with its JSON object, in date order)."""

    state: State
    stale: frozenset[date]
    built: list[tuple[date, bytes]]


@dataclass(slots=True)
class _Piece:
    head: int  # the clinic's version it is known current at (moves up when re-checked)
    built_at: datetime  # the request's clock when it was built: valid from then …
    valid_until: datetime  # … until this instant (exclusive)
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
        self._asking: dict[Key, asyncio.Task[tuple[Answer | None, datetime]]] = {}
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

    def _file(self, base: Key, days: Sequence[Day], now: datetime, answer: Answer) -> None:
        """Learn whether the calendar is range-bound and keep the days ``answer`` built (at
        clock ``now``), each with the interval it holds for."""
        state = answer.state
        if state.range_bound:
            self._range_bound[base] = True
        else:
            self._range_bound.pop(base, None)
        key = (*base, days[0][0]) if state.range_bound else base
        spans = {d: (lo, hi) for d, lo, hi in days}
        for d, body in answer.built:
            lo, hi = spans[d]
            until = valid_until(state, body, now, lo, hi)
            if until > now:
                self._put((*key, d), _Piece(state.head, now, until, body))

    @staticmethod
    def _usable(answer: Answer, days: Sequence[Day], asked_at: datetime, now: datetime) -> bool:
        """Are the days another request's call built (at its clock) the answer at ``now``?"""
        spans = {d: (lo, hi) for d, lo, hi in days}
        return asked_at <= now and all(
            now < valid_until(answer.state, body, asked_at, *spans[d]) for d, body in answer.built
        )

    async def document(
        self,
        base: Key,
        days: Sequence[Day],
        now: datetime,
        ask: Callable[[Sequence[int | None], bool], Awaitable[Answer | None]],
        compose_days: Callable[[int, Sequence[bytes]], bytes],
    ) -> bytes | None:
        """The document of ``days`` (in date order): the kept days that ``ask`` — one call of
        ``slot_pieces_in()`` with their versions — did not find stale, and the days it built.
        Callers of the same moment with the same days kept at the same versions share one
        call (not one already sent: see ``_ask``). None
        when there is no active calendar (the caller's uncached build says why)."""
        bound = base in self._range_bound  # then days are kept per first day of the request
        key = (*base, days[0][0]) if bound else base
        kept = self._current(key, days, now)
        heads = tuple(kept[d].head if d in kept else None for d, _, _ in days)
        flight = (*key, days[0][0], days[-1][0], heads)
        task = self._asking.get(flight)
        shared = task is not None
        if task is None:
            task = self._ask(flight, base, days, now, lambda: ask(heads, bound))
        answer, asked_at = await asyncio.shield(task)
        if answer is not None and shared and not self._usable(answer, days, asked_at, now):
            shared = False  # built at a later clock than ours: ask at ours
            answer = await ask(heads, bound)
            if answer is not None:
                self._file(base, days, now, answer)
        if answer is None:
            return None
        bodies: dict[date, bytes] = {}
        for d, piece in kept.items():
            if d in answer.stale:
                if self._pieces.get((*key, d)) is piece:
                    self._drop((*key, d))
                continue
            piece.head = max(piece.head, answer.state.head)  # found current at this version
            if self._pieces.get((*key, d)) is piece:
                self._pieces.move_to_end((*key, d))  # least recently used goes first
            bodies[d] = piece.body
        bodies.update(answer.built)
        built = 0 if shared else len(answer.built)
        metrics.SLOTS_CACHE.labels("shared" if shared else "miss" if built else "hit").inc()
        metrics.SLOTS_CACHE_DAYS.labels("kept").inc(len(days) - built)
        metrics.SLOTS_CACHE_DAYS.labels("built").inc(built)
        return compose_days(answer.state.duration_minutes, [bodies[d] for d, _, _ in days])

    def _ask(
        self,
        flight: Key,
        base: Key,
        days: Sequence[Day],
        now: datetime,
        call: Callable[[], Awaitable[Answer | None]],
    ) -> asyncio.Task[tuple[Answer | None, datetime]]:
        """One call for ``flight``, shared by whoever asks the same before it starts (requests
        of the same moment); it files what it built before anyone reads the answer."""

        async def call_and_file() -> tuple[Answer | None, datetime]:
            # Closed to newcomers once it runs: its statement's snapshot may predate a commit
            # a later request has seen (and been told of), so only those that came before
            # it was sent may share its answer.
            if self._asking.get(flight) is asyncio.current_task():
                del self._asking[flight]
            answer = await call()
            if answer is not None:
                self._file(base, days, now, answer)
            return answer, now

        task = asyncio.ensure_future(call_and_file())
        self._asking[flight] = task

        def done(finished: asyncio.Task[tuple[Answer | None, datetime]]) -> None:
            if self._asking.get(flight) is finished:
                del self._asking[flight]
            if not finished.cancelled():
                finished.exception()  # retrieved: raised to whoever awaits it, if anyone

        task.add_done_callback(done)
        return task


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
