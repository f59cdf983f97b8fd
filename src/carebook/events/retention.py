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
from carebook.tenancy import quote_ident

log = logging.getLogger(__name__)

PRUNE_LOCK_KEY = 0x0CA8E0E7  # session-level advisory lock: one pruner at a time
MIN_RETENTION = timedelta(hours=24)


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

    Runs over every clinic (or just ``schemas``), one short transaction per clinic, on its
    own connection. A session advisory lock makes sure only one process prunes at a time:
    with ``wait=False`` the call returns ``None`` at once when another process holds it.
    Returns the number of deleted rows per schema that lost any.
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
            for schema in schemas:
                async with conn.transaction():
                    count = await _prune_schema(conn, schema, age)
                if count:
                    pruned[schema] = count
            if pruned:
                log.info("pruned events: %s", pruned)
            return pruned
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", PRUNE_LOCK_KEY)
    finally:
        await conn.close()


async def _prune_schema(conn: asyncpg.Connection, schema: str, age: timedelta) -> int:
    events = f"{quote_ident(schema)}.events"
    # The first id still inside the window, found by walking the primary key from the start:
    # the cost is proportional to what gets deleted, not to what is kept.
    keep_from = await conn.fetchval(
        f"SELECT id FROM {events} WHERE created_at >= now() - $1::interval ORDER BY id LIMIT 1",
        age,
    )
    row = await conn.fetchrow(
        f"""WITH d AS (DELETE FROM {events} WHERE $1::bigint IS NULL OR id < $1 RETURNING id)
            SELECT count(*) AS n, max(id) AS top FROM d""",
        keep_from,
    )
    assert row is not None
    if row["n"]:
        await conn.execute(
            f"UPDATE {quote_ident(schema)}.events_pruned "
            "SET pruned_through = greatest(pruned_through, $1), pruned_at = now()",
            row["top"],
        )
    return int(row["n"])
