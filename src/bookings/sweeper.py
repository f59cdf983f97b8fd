"""Releases expired holds (issue 5): one asyncio task per app process.

Every ``hold_sweep_seconds`` the task asks the platform table ``public.hold_expiries`` —
written in each hold's own transaction — which clinics have due holds. That is one index
probe however many clinics exist, instead of a query per clinic schema. For each such
clinic one transaction claims the due hints (``FOR UPDATE SKIP LOCKED``, so several
processes share the work without waiting on each other), moves the still-``held`` rows to
``expired``, deletes the hints and publishes ``slot.released``. Hints of holds that were
booked or released meanwhile are simply deleted. The same transaction purges the clinic's
idempotency keys older than 24 hours (a bounded batch).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from bookings import events
from carebook import metrics
from carebook.settings import get_settings
from carebook.sqlfiles import sql
from carebook.tenancy import platform_tx, tenant_tx

log = logging.getLogger(__name__)
CLINICS_PER_ROUND = 100

_task: asyncio.Task[None] | None = None


async def due_schemas(limit: int = CLINICS_PER_ROUND) -> list[str]:
    """Clinic schemas that have at least one hold past its expiry."""
    async with platform_tx() as conn:
        rows = await conn.fetch(
            "SELECT DISTINCT schema_name FROM public.hold_expiries "
            "WHERE expires_at <= now() LIMIT $1",
            limit,
        )
    return [r["schema_name"] for r in rows]


async def sweep_schema(schema: str) -> int:
    """Expire one clinic's due holds and purge its day-old idempotency keys.

    Returns how many holds were expired. The purge rides along because every booking's hold
    brings its clinic here when the hold's expiry hint falls due (``book_hold()`` no longer
    probes for old keys on every booking)."""
    async with tenant_tx(schema) as conn:
        # Before the events: publishing holds the clinic's event lock until commit.
        await conn.execute(sql("bookings", "purge_idempotency_keys.sql"))
        rows = await conn.fetch(sql("bookings", "sweep_due_holds.sql"))
        for row in rows:
            await events.slot_released(conn, row)
    metrics.HOLDS_SWEPT.inc(len(rows))
    return len(rows)


async def sweep_once() -> int:
    """One round over every clinic with due holds; returns how many holds were expired."""
    expired = 0
    for schema in await due_schemas():
        try:
            expired += await sweep_schema(schema)
        except (asyncpg.SerializationError, asyncpg.DeadlockDetectedError):
            log.info("sweep of %s collided with a writer; next round retries", schema)
        except asyncpg.UndefinedTableError:
            log.warning("schema %s has hold hints but no appointments table", schema)
    return expired


async def _run(interval: float) -> None:
    while True:
        try:
            await sweep_once()
        except asyncio.CancelledError:
            raise
        except Exception:
            # The sweeper must outlive database blips; the next round starts over.
            log.warning("hold sweep failed", exc_info=True)
        await asyncio.sleep(interval)


async def start_sweeper() -> None:
    """Start the expired-hold sweeper task of this process."""
    global _task
    if _task is None or _task.done():
        _task = asyncio.create_task(_run(get_settings().hold_sweep_seconds), name="hold-sweeper")


async def stop_sweeper() -> None:
    """Stop it and wait until it has stopped (no task outlives the app)."""
    global _task
    task, _task = _task, None
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
