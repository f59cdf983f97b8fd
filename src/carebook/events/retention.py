"""Outbox retention: prune old events of every clinic, and the exact "was anything pruned?" test.

Pruning deletes a *prefix* of ids: everything below the oldest event that is still inside
the retention window. Each clinic's ``events_pruned.pruned_through`` records the highest id
ever deleted, so a client that last saw id ``N`` has missed nothing iff
``N >= pruned_through`` — exact, whatever gaps rolled-back transactions left in the sequence.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import asyncpg

from carebook.settings import direct_database_url, get_settings

log = logging.getLogger(__name__)

PRUNE_LOCK_KEY = 0x0CA8E0E7  # session-level advisory lock: one pruner at a time
MIN_RETENTION = timedelta(hours=24)
# Clinics per statement (one transaction): a round trip per batch, not four per clinic.
PRUNE_BATCH = 100
PRUNE_BATCH_SQL = (
    "SELECT s AS schema, public.prune_events_in(s, $2) AS n FROM unnest($1::text[]) AS s"
)


def retention() -> timedelta:
    """The configured retention, never below the 24 h the spec promises."""
    return max(timedelta(hours=get_settings().event_retention_hours), MIN_RETENTION)


async def prune_events(
    older_than: timedelta | None = None,
    *,
    schemas: list[str] | None = None,
    wait: bool = True,
) -> dict[str, int] | None:
    """Delete events older than ``older_than`` (default: the configured retention, ≥ 24 h).

    Runs over every clinic (or just ``schemas``), ``PRUNE_BATCH`` clinics per statement
    (``public.prune_events_in``, one short transaction each), on its own connection; a batch
    that fails is retried clinic by clinic, so one broken clinic stops nobody else's. A
    session advisory lock makes sure only one process prunes at a time: with ``wait=False``
    the call returns ``None`` at once when another process holds it. Returns the number of
    deleted rows per schema that lost any.
    """
    age = retention() if older_than is None else older_than
    conn = await asyncpg.connect(direct_database_url())
    try:
        if wait:
            await conn.execute("SELECT pg_advisory_lock($1)", PRUNE_LOCK_KEY)
        elif not await conn.fetchval("SELECT pg_try_advisory_lock($1)", PRUNE_LOCK_KEY):
            return None
        try:
            if schemas is None:
                schemas = [
                    r["schema_name"]
                    for r in await conn.fetch(
                        "SELECT schema_name FROM public.tenants ORDER BY schema_name"
                    )
                ]
            pruned: dict[str, int] = {}
            for start in range(0, len(schemas), PRUNE_BATCH):
                batch = schemas[start : start + PRUNE_BATCH]
                try:
                    rows = await conn.fetch(PRUNE_BATCH_SQL, batch, age)
                except asyncpg.PostgresError:
                    rows = [row for schema in batch if (row := await _prune_one(conn, schema, age))]
                pruned.update((r["schema"], r["n"]) for r in rows if r["n"])
            if pruned:
                log.info("pruned events: %s", pruned)
            return pruned
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", PRUNE_LOCK_KEY)
    finally:
        await conn.close()


async def _prune_one(
    conn: asyncpg.Connection, schema: str, age: timedelta
) -> asyncpg.Record | None:
    try:
        return await conn.fetchrow(PRUNE_BATCH_SQL, [schema], age)
    except asyncpg.PostgresError:
        log.warning("pruning the events of %s failed", schema, exc_info=True)
        return None
