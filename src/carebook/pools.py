"""The app's database connections: one pool for platform work, and clinic groups.

A PostgreSQL backend keeps what it learnt about every clinic schema it served (catalog
entries, compiled PL/pgSQL, plans) and never gives it back; the first request of a clinic on
a backend pays to learn it (docs/benchmarks.md, issue 16: 4-20 ms more than its second).
With one pool, a clinic's requests land on whichever backend is free, so every backend
learns every clinic and a clinic's second request is often another backend's first.

So the process keeps **clinic groups**: ``CAREBOOK_DB_GROUPS`` small pools, and a clinic's
transactions go to the pool its schema name hashes to (stable across processes and
restarts). Each backend then learns only its group's clinics, a clinic's requests find
backends that know it, and ``CAREBOOK_DB_MAX_CLINICS`` replaces connections less often.
A group that is busy does not make a clinic wait while another group has an idle
connection, or room to open one: the request borrows it (affinity is a preference, never a
queue).
Platform work (tenant lookups, sessions, admin, health) uses the Piccolo engine's pool.

The connections of all pools add up to ``CAREBOOK_DB_POOL``. Behind PgBouncer there are no
groups: PgBouncer, not we, picks the server connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import zlib
from collections.abc import Iterator
from typing import Any

import asyncpg

from carebook.settings import behind_pgbouncer

# A group needs at least this many connections: one request and the job relay at once.
MIN_GROUP = 2
# The platform pool keeps at least this many (tenant lookups, sessions, admin, health).
MIN_PLATFORM = 2


def pool_size() -> int:
    return int(os.environ.get("CAREBOOK_DB_POOL", "20"))


def group_count(size: int) -> int:
    """``CAREBOOK_DB_GROUPS`` (default: one group per 4 connections; 0 or 1: no groups), as
    many as leave every group ``MIN_GROUP`` connections and the platform pool
    ``MIN_PLATFORM``."""
    if behind_pgbouncer():
        return 0
    raw = os.environ.get("CAREBOOK_DB_GROUPS")
    wanted = int(raw) if raw not in (None, "") else size // 4
    most = max(0, (size - MIN_PLATFORM) // MIN_GROUP)
    groups = min(wanted, most)
    return groups if groups >= 2 else 0


def group_sizes(size: int, groups: int) -> tuple[int, int]:
    """(platform pool size, each group's size) for ``size`` connections in ``groups``."""
    each = (size - MIN_PLATFORM) // groups
    return size - each * groups, each


class ClinicGroups:
    """The clinic groups of one event loop."""

    def __init__(self, pools: list[asyncpg.Pool], loop: asyncio.AbstractEventLoop) -> None:
        self.pools = pools
        self.loop = loop
        # Our transactions holding, opening or waiting for each pool's connections. asyncpg's
        # get_size() counts open connections only: while a burst's first connections are
        # still being opened it shows room that is already taken.
        self.claimed = {id(pool): 0 for pool in pools}

    def home(self, schema: str) -> asyncpg.Pool:
        return self.pools[zlib.crc32(schema.encode()) % len(self.pools)]

    def _room(self, pool: asyncpg.Pool) -> bool:
        limit: int = pool.get_max_size()
        return bool(pool.get_size() < limit and self.claimed[id(pool)] < limit)

    def free(self, pool: asyncpg.Pool) -> bool:
        """``pool`` can serve a transaction now: an idle connection, or room to open one."""
        return bool(pool.get_idle_size() > 0) or self._room(pool)

    def pool_for(self, schema: str) -> asyncpg.Pool:
        """The schema's home group while it has an idle connection or room for a new one;
        else a group with an idle connection; else a group with room for a new one (groups
        start empty and close idle connections, so "nothing idle" is often "nothing open":
        one busy clinic must not be held to its group's size); else the home group (wait
        there)."""
        home = self.home(schema)
        if self.free(home):
            return home
        for pool in self.pools:
            if pool.get_idle_size() > 0:
                return pool
        for pool in self.pools:
            if self._room(pool):
                return pool
        return home

    def claim(self, pool: asyncpg.Pool) -> None:
        if id(pool) in self.claimed:
            self.claimed[id(pool)] += 1

    def unclaim(self, pool: asyncpg.Pool) -> None:
        if id(pool) in self.claimed:
            self.claimed[id(pool)] -= 1


_groups: ClinicGroups | None = None


def clinic_pool(schema: str) -> asyncpg.Pool | None:
    """The pool for a transaction in ``schema`` on this event loop, if it has groups."""
    groups = _groups
    if groups is None or groups.loop is not asyncio.get_running_loop():
        return None
    return groups.pool_for(schema)


@contextlib.contextmanager
def claimed(pool: Any) -> Iterator[None]:
    """Count a transaction on ``pool`` from before it acquires until it has released (enter
    it right after ``clinic_pool``, with no await between); a no-op for other pools."""
    groups = _groups
    if groups is None:
        yield
        return
    groups.claim(pool)
    try:
        yield
    finally:
        groups.unclaim(pool)


def free_group_pools() -> list[asyncpg.Pool]:
    """This event loop's clinic group pools that can serve a transaction now (an idle
    connection or room for one; none without groups)."""
    groups = _groups
    if groups is None or groups.loop is not asyncio.get_running_loop():
        return []
    return [pool for pool in groups.pools if groups.free(pool)]


def app_pools() -> Iterator[Any]:
    """Every pool of the app (for gauges)."""
    from carebook.piccolo_conf import DB

    if DB.pool is not None:
        yield DB.pool
    if _groups is not None:
        yield from _groups.pools


def acquire_timeout() -> float | None:
    """``CAREBOOK_DB_ACQUIRE_TIMEOUT`` (seconds, default 30; 0 = no limit): how long a
    request waits for a pooled connection before it is answered 503 ``busy_retry``."""
    seconds = float(os.environ.get("CAREBOOK_DB_ACQUIRE_TIMEOUT") or 30)
    return seconds if seconds > 0 else None


class _Bounded:
    """``pool.acquire()`` that waits at most ``acquire_timeout()`` (unless given a timeout):
    past it a ``DatabaseBusy`` (503 ``busy_retry``), counted by
    ``carebook_db_acquire_timeouts_total``. Awaitable and an async context manager, as
    asyncpg's own acquire is."""

    def __init__(self, pool: asyncpg.Pool, timeout: float | None) -> None:
        self._ctx = pool.acquire(timeout=acquire_timeout() if timeout is None else timeout)

    def __await__(self) -> Any:
        return self._acquire().__await__()

    async def _acquire(self) -> Any:
        try:
            return await self._ctx
        except TimeoutError:
            raise _busy() from None

    async def __aenter__(self) -> Any:
        try:
            return await self._ctx.__aenter__()
        except TimeoutError:
            raise _busy() from None

    async def __aexit__(self, *exc: Any) -> None:
        await self._ctx.__aexit__(*exc)


def _busy() -> Exception:
    from carebook import metrics
    from carebook.errors import DatabaseBusy

    metrics.DB_ACQUIRE_TIMEOUTS.inc()
    return DatabaseBusy()


def acquire(pool: Any) -> _Bounded:
    """A connection of ``pool`` (a clinic group or the platform pool), bounded in time."""
    return _Bounded(getattr(pool, "raw", pool), None)


class PlatformPool:
    """The platform pool as the Piccolo engine holds it (``DB.pool``). Piccolo's ORM queries,
    its transactions, the session checks and the admin call ``pool.acquire()`` without a
    timeout, so under exhaustion they would wait for ever where ``carebook.tenancy``'s
    transactions answer 503 after ``CAREBOOK_DB_ACQUIRE_TIMEOUT``; through this they wait as
    long and fail the same way. Everything else is the asyncpg pool's (``raw``) — including
    asyncpg's own shortcuts (``pool.fetch()``, ``pool.execute()``), which acquire from
    ``raw`` unbounded; no code of ours calls them."""

    __slots__ = ("raw",)

    def __init__(self, raw: asyncpg.Pool) -> None:
        self.raw = raw

    def acquire(self, *, timeout: float | None = None) -> _Bounded:
        return _Bounded(self.raw, timeout)

    def __getattr__(self, name: str) -> Any:
        if name == "raw":  # not set yet (a copy being made): no recursion
            raise AttributeError(name)
        return getattr(self.raw, name)


async def start_pool() -> None:
    global _groups
    from carebook.piccolo_conf import DB

    size = pool_size()
    groups = group_count(size)
    platform, each = group_sizes(size, groups) if groups else (size, 0)
    # A backend caches the catalog entries of every clinic schema it has touched: replacing
    # a pooled connection after this many queries is a loose bound; the tight one is
    # CAREBOOK_DB_MAX_CLINICS (carebook.tenancy, docs/operations.md).
    options: dict[str, Any] = {
        "reset": _keep_session,
        "max_queries": int(os.environ.get("CAREBOOK_DB_MAX_QUERIES", "2000")),
    }
    await DB.start_connection_pool(
        min_size=min(MIN_PLATFORM, platform), max_size=platform, **options
    )
    if DB.pool is not None and not isinstance(DB.pool, PlatformPool):
        DB.pool = PlatformPool(DB.pool)
    if groups:
        pools = [
            await asyncpg.create_pool(**DB.config, min_size=0, max_size=each, **options)
            for _ in range(groups)
        ]
        _groups = ClinicGroups(pools, asyncio.get_running_loop())


async def _keep_session(conn: Any) -> None:
    """Pool release without asyncpg's reset query (one round trip per request saved).

    asyncpg still rolls back a transaction left open. Nothing else needs resetting because
    pooled connections never carry session state: search_path is only ever ``SET LOCAL``,
    advisory locks are transaction-level, and LISTEN/session locks live on dedicated
    connections (events hub, retention, migrations). tests/carebook/test_pool_hygiene.py
    keeps it so.
    """


async def _close(pool: asyncpg.Pool) -> None:
    # close() waits for every borrowed connection; never let one stuck borrower hang
    # shutdown.
    try:
        await asyncio.wait_for(pool.close(), timeout=10)
    except TimeoutError:
        pool.terminate()


async def stop_pool() -> None:
    global _groups
    from carebook.piccolo_conf import DB

    pool, DB.pool = DB.pool, None
    groups, _groups = _groups, None
    closing = [getattr(pool, "raw", pool)] if pool is not None else []
    closing += groups.pools if groups is not None else []
    await asyncio.gather(*(_close(p) for p in closing))
