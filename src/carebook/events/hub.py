"""The per-process LISTEN connection and its fan-out to subscribers (issue 6).

One dedicated asyncpg connection per app process (not from the pool) LISTENs on
``carebook_events``. A NOTIFY carries only ``<schema>:<id>``; it wakes that clinic's *feed*,
which reads the new rows ``WHERE id > last_id`` once and offers each event to the clinic's
subscribers whose calendar it concerns. The connection is pinged every few seconds; when it
is lost it is re-opened with exponential backoff, and every feed then catches up from the
table by its last id, so no subscriber misses an event, and none gets one twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg

from carebook.events.outbox import AVAILABILITY_CHANGED, NOTIFY_CHANNEL
from carebook.events.retention import prune_events
from carebook.events.signals import chain_exit_signals, restore_signals
from carebook.events.subscriber import WRITES, Event, Subscriber
from carebook.metrics import OUTBOX_LAG
from carebook.settings import direct_database_url, get_settings
from carebook.tenancy import quote_ident, tenant_tx

log = logging.getLogger(__name__)

APPLICATION_NAME = "carebook-listen"  # + "-<os pid>", to find the backend in pg_stat_activity
KEEPALIVE_SECONDS = 10.0
QUERY_TIMEOUT_SECONDS = 5.0
BACKOFF_FIRST, BACKOFF_CAP = 0.05, 2.0
FETCH_BATCH = 500
PRUNE_EVERY_SECONDS = 300.0
PACE_ABOVE_SECONDS, PACE_MAX_SECONDS = 0.002, 0.05
_CONNECTION_ERRORS = (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


# Where a new feed starts reading: the newest committed id (carebook/sql/functions/events.sql).
_HEAD = "SELECT clinic_event_head()"


class HubClosed(Exception):
    """The hub is shutting down (or not started) and takes no new subscribers."""


@dataclass(eq=False)
class _Feed:
    """One clinic's read position and subscribers."""

    schema: str
    last_id: int | None = None  # None until the first subscriber initialised it
    subscribers: set[Subscriber] = field(default_factory=set)
    joining: int = 0  # subscribe() calls in flight; the feed must not vanish under them
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    retired: bool = False  # dropped from the hub; its task ends after the current read
    # Specialists per subscribed calendar, kept current by the feed's own refreshes, so the
    # 1,000th subscriber of a calendar costs no query (and a reconnect storm stays cheap).
    members: dict[UUID, frozenset[UUID]] = field(default_factory=dict)
    watchers: Counter[UUID] = field(default_factory=Counter)
    busy: float = 0.0  # seconds of fan-out since the feed last rested


class Hub:
    """Fan-out of one LISTEN connection to this process's SSE subscribers."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.reconnects = 0
        self._feeds: dict[str, _Feed] = {}
        self._conn: asyncpg.Connection | None = None
        self._conn_lock = asyncio.Lock()  # one query at a time on the LISTEN connection
        self._connected = asyncio.Event()
        self._lost = asyncio.Event()  # set when the current LISTEN connection is gone
        self._closing = False
        self._tasks: list[asyncio.Task[None]] = []
        self._feed_tasks: set[asyncio.Task[None]] = set()  # incl. retired feeds still ending

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self, *, wait: float = 5.0) -> None:
        """Start listening (waits up to ``wait`` s for the first connection) and pruning."""
        self._tasks = [
            asyncio.create_task(self._listen_forever(), name="carebook-hub-listen"),
            asyncio.create_task(self._prune_forever(), name="carebook-hub-prune"),
            asyncio.create_task(self._heartbeat_forever(), name="carebook-hub-heartbeat"),
        ]
        try:
            await asyncio.wait_for(self._connected.wait(), wait)
        except TimeoutError:
            log.error("live updates: no LISTEN connection yet; retrying in the background")

    def drain(self) -> None:
        """End every open stream and refuse new ones (the process is going down)."""
        self._closing = True
        for feed in self._feeds.values():
            for sub in feed.subscribers:
                sub.close()

    async def stop(self) -> None:
        """Drain, cancel every task, close the LISTEN connection."""
        self.drain()
        # Feeds first: they borrow the LISTEN connection, which the listen task then closes.
        for group in (list(self._feed_tasks), self._tasks):
            for task in group:
                task.cancel()
            await asyncio.gather(*group, return_exceptions=True)
        self._feeds.clear()
        self._feed_tasks.clear()
        self._tasks = []
        log.info("live updates: hub stopped")

    @property
    def listening(self) -> bool:
        return self._connected.is_set()

    @property
    def closing(self) -> bool:
        return self._closing

    def stats(self) -> dict[str, Any]:
        return {
            "listening": self.listening,
            "subscribers": sum(len(f.subscribers) for f in self._feeds.values()),
            "clinics": len(self._feeds),
            "reconnects": self.reconnects,
            "direct_writes": WRITES["direct"],
            "queued_writes": WRITES["queued"],
        }

    # ---- subscribers -----------------------------------------------------------------

    async def subscribe(
        self,
        schema: str,
        calendar_id: UUID,
        *,
        queue_size: int | None = None,
        everything: bool = False,
    ) -> Subscriber:
        """Register a subscriber for one calendar of one clinic.

        Every event with an id above the returned subscriber's ``start_id`` will be offered
        to its queue; older ones must come from the table (see ``replay``). The calendar's
        specialists are read after ``start_id`` is fixed (or come from the feed's cache,
        which every membership event up to ``start_id`` has refreshed), so a membership
        change is either in that read or arrives later as an event that refreshes it.
        """
        if self._closing:
            raise HubClosed
        feed = self._feeds.get(schema)
        if feed is None:
            feed = self._feeds[schema] = _Feed(schema)
            feed.task = asyncio.create_task(self._run_feed(feed), name=f"carebook-feed-{schema}")
            self._feed_tasks.add(feed.task)
            feed.task.add_done_callback(self._feed_tasks.discard)
        feed.joining += 1
        try:
            async with feed.lock:
                if feed.last_id is None or calendar_id not in feed.members:
                    async with tenant_tx(schema) as conn:
                        if feed.last_id is None:
                            feed.last_id = int(await conn.fetchval(_HEAD))
                        found = await _members(conn, [calendar_id])
                    feed.members[calendar_id] = found.get(calendar_id, frozenset())
                sub = Subscriber(
                    schema,
                    calendar_id,
                    feed.members[calendar_id],
                    queue_size or get_settings().sse_queue_size,
                    start_id=feed.last_id,
                    cursor=feed.last_id,
                    everything=everything,
                )
                if self._closing:
                    raise HubClosed
                feed.subscribers.add(sub)
                feed.watchers[calendar_id] += 1
                return sub
        finally:
            feed.joining -= 1
            self._forget_if_idle(feed)

    def unsubscribe(self, sub: Subscriber) -> None:
        """Forget ``sub`` (idempotent); the clinic's feed goes when its last subscriber does."""
        feed = self._feeds.get(sub.schema)
        if feed is not None and sub in feed.subscribers:
            feed.subscribers.remove(sub)
            feed.watchers[sub.calendar_id] -= 1
            if feed.watchers[sub.calendar_id] <= 0:
                del feed.watchers[sub.calendar_id]
                feed.members.pop(sub.calendar_id, None)
            self._forget_if_idle(feed)

    def _forget_if_idle(self, feed: _Feed) -> None:
        if not feed.subscribers and not feed.joining and self._feeds.get(feed.schema) is feed:
            del self._feeds[feed.schema]
            # Not cancelled: a cancelled query would leave the shared connection mid-command.
            feed.retired = True
            feed.wake.set()

    # ---- the LISTEN connection ---------------------------------------------------------

    async def _listen_forever(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            lost = asyncio.Event()
            try:
                conn = await asyncio.wait_for(self._connect(lost), QUERY_TIMEOUT_SECONDS)
            except _CONNECTION_ERRORS as exc:
                log.warning(
                    "live updates: LISTEN connect failed (%s); retry in %.2f s", exc, backoff
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_CAP)
                continue
            backoff = BACKOFF_FIRST
            self._conn = conn
            self._connected.set()
            # Anything committed while we were not listening is read from the table now.
            for feed in self._feeds.values():
                feed.wake.set()
            try:
                await self._keepalive(conn, lost)
                log.warning("live updates: LISTEN connection lost")
            except _CONNECTION_ERRORS as exc:
                log.warning("live updates: LISTEN connection lost (%r)", exc)
            finally:
                self._connected.clear()
                self._conn = None
                await _close(conn, graceful=not lost.is_set())
            self.reconnects += 1
            await asyncio.sleep(random.uniform(0, backoff))  # spread reconnect storms

    async def _connect(self, lost: asyncio.Event) -> asyncpg.Connection:
        conn = await asyncpg.connect(
            self.database_url,
            command_timeout=QUERY_TIMEOUT_SECONDS,
            server_settings={"application_name": f"{APPLICATION_NAME}-{os.getpid()}"},
        )
        try:
            conn.add_termination_listener(lambda _c: lost.set())
            await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
        except BaseException:  # incl. the caller's timeout: never leak the socket
            conn.terminate()
            raise
        self._lost = lost
        return conn

    async def _keepalive(self, conn: asyncpg.Connection, lost: asyncio.Event) -> None:
        while not lost.is_set() and not conn.is_closed():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), KEEPALIVE_SECONDS)
                return
            async with self._conn_lock:
                await conn.fetchval("SELECT 1")

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        schema, _, raw_id = payload.rpartition(":")
        feed = self._feeds.get(schema)
        if feed is None:
            return
        try:
            event_id = int(raw_id)
        except ValueError:
            return
        # A batch read may already have covered this id: then there is nothing to do.
        if feed.last_id is None or event_id > feed.last_id:
            feed.wake.set()

    # ---- feeds ---------------------------------------------------------------------------

    async def _run_feed(self, feed: _Feed) -> None:
        """Read and fan out a clinic's new events whenever a NOTIFY (or a reconnect) wakes it."""
        while True:
            await feed.wake.wait()
            if feed.retired:
                return
            await self._connected.wait()
            feed.wake.clear()
            try:
                async with feed.lock:
                    while await self._read_batch(feed) == FETCH_BATCH:
                        pass
                # Pace a busy feed: rest as long as its fan-out just took (a 1,000-stream
                # fan-out is ~10 ms of CPU). Events committed meanwhile are read together
                # and reach each stream as one write, and other feeds and requests run in
                # between. An event rarely waits: only one committed within that time.
                pause, feed.busy = feed.busy, 0.0
                if pause > PACE_ABOVE_SECONDS:
                    await asyncio.sleep(min(pause, PACE_MAX_SECONDS))
            except _CONNECTION_ERRORS as exc:
                # Retried (after the reconnect, if that is the cause); the cursor never
                # moved past an event that was not offered.
                log.info("live updates: feed %s read failed (%r)", feed.schema, exc)
                broken = self._conn is None or self._conn.is_closed()
                if broken or isinstance(exc, TimeoutError):
                    self._lost.set()  # do not wait for the keepalive to notice
                feed.wake.set()
                # A lost connection is back within ~BACKOFF_CAP; anything else (a dropped
                # schema, say) must not turn into a tight retry loop.
                await asyncio.sleep(BACKOFF_FIRST if broken else BACKOFF_CAP)
            except Exception:
                # Never let one bad read end the clinic's feed for good.
                log.exception("live updates: feed %s failed", feed.schema)
                feed.wake.set()
                await asyncio.sleep(BACKOFF_CAP)

    async def _read_batch(self, feed: _Feed) -> int:
        conn = self._conn
        if feed.last_id is None:  # its first subscribe() failed; the next one initialises it
            return 0
        if conn is None:
            raise ConnectionError("not listening")
        async with self._conn_lock:
            rows = await conn.fetch(
                "SELECT id, type, specialist_id, data, "
                "extract(epoch FROM clock_timestamp() - created_at)::float8 AS lag "
                f"FROM {quote_ident(feed.schema)}.events "
                "WHERE id > $1 ORDER BY id LIMIT $2",
                feed.last_id,
                FETCH_BATCH,
            )
        started = time.perf_counter()
        run: list[Event] = []  # events routed with the same specialist sets
        for row in rows:
            OUTBOX_LAG.observe(max(row["lag"], 0.0))
            event = Event.from_row(row)
            if event.type == AVAILABILITY_CHANGED and (
                event.calendar_id is not None or event.specialist_id is None
            ):
                # A calendar edit (or a clinic-wide one) may change who is on which calendar:
                # refresh before this event is routed, so later events use the new sets.
                _fan_out(feed, run)
                run = []
                feed.busy += time.perf_counter() - started
                await self._refresh_members(conn, feed, event.calendar_id)
                started = time.perf_counter()
            run.append(event)
        _fan_out(feed, run)
        for sub in feed.subscribers:
            sub.cursor = feed.last_id
        feed.busy += time.perf_counter() - started
        return len(rows)

    async def _refresh_members(
        self, conn: asyncpg.Connection, feed: _Feed, calendar_id: UUID | None
    ) -> None:
        calendars = set(feed.members)
        if calendar_id is not None:
            calendars &= {calendar_id}
        if not calendars:
            return
        async with self._conn_lock:
            members = await _members(conn, list(calendars), schema=feed.schema)
        for calendar in calendars:
            if calendar in feed.members:  # not dropped while we were reading
                feed.members[calendar] = members.get(calendar, frozenset())
        for sub in feed.subscribers:
            if sub.calendar_id in calendars:
                sub.specialists = feed.members.get(sub.calendar_id, frozenset())

    # ---- heartbeat and retention ----------------------------------------------------

    async def _heartbeat_forever(self) -> None:
        """One timer for all streams (not one per stream and event): each gets a ``PING``."""
        interval = get_settings().sse_heartbeat_seconds
        while True:
            await asyncio.sleep(interval)
            for feed in list(self._feeds.values()):
                for sub in list(feed.subscribers):
                    try:
                        sub.ping()
                    except Exception:  # one stream's failure must not end every heartbeat
                        log.exception("live updates: heartbeat to a stream failed")

    async def _prune_forever(self) -> None:
        """Prune old events every few minutes; the advisory lock lets one process do it."""
        await asyncio.sleep(random.uniform(30, 90))
        while True:
            try:
                await prune_events(wait=False)
            except Exception:  # never let a failed prune end the loop
                log.exception("live updates: pruning events failed")
            await asyncio.sleep(PRUNE_EVERY_SECONDS * random.uniform(0.8, 1.2))


def _fan_out(feed: _Feed, events: list[Event]) -> None:
    """Offer ``events`` to every subscriber that wants them, then move the feed's cursor.

    Events read together go to a subscriber together: one write per stream per read, the
    chunk built once for every stream that wants the same events (usually all of them)."""
    if not events:
        return
    if len(events) == 1:
        event = events[0]
        for sub in feed.subscribers:
            if sub.wants(event):
                sub.offer(event)
    else:
        chunks: dict[tuple[int, ...], bytes] = {}
        for sub in feed.subscribers:
            wanted = [event for event in events if sub.wants(event)]
            if wanted:
                sub.offer_all(wanted, chunks)
    feed.last_id = events[-1].id


async def _close(conn: asyncpg.Connection, *, graceful: bool) -> None:
    if graceful and not conn.is_closed():
        with contextlib.suppress(*_CONNECTION_ERRORS):
            await asyncio.wait_for(conn.close(), 2)
    if not conn.is_closed():
        conn.terminate()  # frees the socket when close() could not


async def _members(
    conn: asyncpg.Connection, calendars: list[UUID], *, schema: str | None = None
) -> dict[UUID, frozenset[UUID]]:
    table = f"{quote_ident(schema)}.calendar_specialists" if schema else "calendar_specialists"
    rows = await conn.fetch(
        f"SELECT calendar_id, specialist_id FROM {table} WHERE calendar_id = ANY($1::uuid[])",
        calendars,
    )
    found: dict[UUID, set[UUID]] = {}
    for row in rows:
        found.setdefault(row["calendar_id"], set()).add(row["specialist_id"])
    return {k: frozenset(v) for k, v in found.items()}


# ---- the process-wide hub -------------------------------------------------------------

_hub: Hub | None = None


def get_hub() -> Hub:
    """This process's hub; ``HubClosed`` when it is not running."""
    if _hub is None:
        raise HubClosed
    return _hub


async def start_hub() -> None:
    """Open this process's LISTEN connection."""
    global _hub
    if _hub is not None:
        return
    # Direct to PostgreSQL even when DATABASE_URL goes through PgBouncer in transaction
    # mode, where a session's LISTEN would not survive the transaction (docs/operations.md).
    _hub = Hub(direct_database_url())
    await _hub.start()
    chain_exit_signals(_hub.drain)


async def stop_hub() -> None:
    """End every stream and close the LISTEN connection."""
    global _hub
    hub, _hub = _hub, None
    restore_signals()
    if hub is not None:
        await hub.stop()
