"""The scheduler: moves due timed jobs (``public.scheduled_jobs``) into the outbox.

Exactly one process acts at a time: each candidate holds a dedicated connection and tries a
session-level advisory lock; the holder is the leader until its connection ends (a crashed
leader's lock goes with its backend, and another candidate takes over within
``ELECT_SECONDS``). Moving rows also claims them ``FOR UPDATE SKIP LOCKED``, so even two
leaders (impossible by the lock) could not move one row twice. Timed work is rows, not
delayed messages: a rescheduled or cancelled appointment's rows are replaced or dropped in
its own transaction, so nothing ever fires at the old time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

import asyncpg

log = logging.getLogger(__name__)

LEADER_LOCK_KEY = 0x0CA8EB005  # pg advisory lock: the scheduler's leadership
TICK_SECONDS = 1.0
ELECT_SECONDS = 2.0
BATCH = 500

_MOVE_DUE = """
WITH due AS (
    DELETE FROM public.scheduled_jobs
    WHERE id IN (SELECT id FROM public.scheduled_jobs WHERE due_at <= now()
                 ORDER BY due_at LIMIT $1 FOR UPDATE SKIP LOCKED)
    RETURNING schema_name, actor, args)
INSERT INTO public.job_outbox (schema_name, actor, args)
SELECT schema_name, actor, args FROM due
"""


class Scheduler:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.is_leader = False
        self.moved = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run_forever(), name="carebook-scheduler")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.is_leader = False

    async def move_due(self, conn: asyncpg.Connection) -> int:
        """Move one batch of due timed jobs into the outbox; returns how many."""
        status: str = await conn.execute(_MOVE_DUE, BATCH)
        moved = int(status.rsplit(" ", 1)[-1])
        self.moved += moved
        return moved

    async def _become_leader(self, conn: asyncpg.Connection) -> None:
        """Wait until this connection holds the leader lock (another process may hold it)."""
        while True:
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", LEADER_LOCK_KEY):
                return
            await asyncio.sleep(ELECT_SECONDS)

    async def _run_forever(self) -> None:
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.database_url)
                await self._become_leader(conn)
                self.is_leader = True
                log.info("scheduler: this process (pid %s) is the leader", os.getpid())
                while True:
                    while await self.move_due(conn) == BATCH:
                        pass
                    await asyncio.sleep(TICK_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("scheduler: %s: %s; starting over", type(exc).__name__, exc)
                await asyncio.sleep(ELECT_SECONDS)
            finally:
                self.is_leader = False
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.close(timeout=2))


_scheduler: Scheduler | None = None


async def start_scheduler() -> None:
    """Start the in-process scheduler when ``CAREBOOK_SCHEDULER=1`` (``carebook run``)."""
    global _scheduler
    if os.environ.get("CAREBOOK_SCHEDULER") != "1":
        return
    from carebook.settings import direct_database_url

    # Leadership is a session-level lock: never through a transaction pooler.
    _scheduler = Scheduler(direct_database_url())
    await _scheduler.start()


async def stop_scheduler() -> None:
    global _scheduler
    scheduler, _scheduler = _scheduler, None
    if scheduler is not None:
        await scheduler.stop()


async def run_scheduler_process(database_url: str) -> None:
    """``carebook scheduler``: the scheduler and a relay, until cancelled (SIGTERM/SIGINT)."""
    from carebook.jobs.relay import Relay, import_actor_modules

    import_actor_modules()
    scheduler, relay = Scheduler(database_url), Relay(database_url)
    await scheduler.start()
    await relay.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await relay.stop()
    await scheduler.stop()
