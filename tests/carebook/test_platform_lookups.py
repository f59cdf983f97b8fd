"""A clinic's lookups in platform tables use their indexes, whatever the number of clinics.

Shared functions find the clinic's own rows in platform tables (``public.tenants``,
``scheduled_jobs``, ``hold_expiries``) by ``current_schema()``. That function returns
``name``, whose collation is "C"; compared with a ``varchar`` column of the default
collation the comparison has no usable collation and the column's index cannot serve it: a
sequential scan of every clinic's rows, on every availability query and statistics trigger
(3 ms at 10,000 clinics: docs/benchmarks.md). With sequential scans disabled, the planner
still takes one only when no index can answer, so ``seq_scan`` staying 0 shows each lookup
is indexed however small the test tables are.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from carebook.settings import direct_database_url
from carebook.sqlfiles import sql
from tests.conftest import Clinic
from tests.factories import add_calendar, add_specialist

PLATFORM_TABLES = ("tenants", "scheduled_jobs", "hold_expiries")
SWEEP = sql("bookings", "sweep_due_holds.sql")


@asynccontextmanager
async def _in_clinic_without_seqscan(clinic: Clinic) -> AsyncIterator[asyncpg.Connection]:
    """A transaction in the clinic's schema on a fresh backend (no plan cached before
    sequential scans were disabled)."""
    conn = await asyncpg.connect(direct_database_url(), statement_cache_size=0)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL enable_seqscan = off")
            await conn.execute(f'SET LOCAL search_path TO "{clinic.tenant.schema}", public')
            yield conn
    finally:
        await conn.close()


async def test_clinic_lookups_in_platform_tables_use_an_index(clinic: Clinic) -> None:
    sid = await add_specialist(clinic.tenant)
    cal = await add_calendar(clinic.tenant, [sid])
    day = date.today() + timedelta(days=3)
    start = datetime.combine(day, datetime.min.time(), UTC)
    async with _in_clinic_without_seqscan(clinic) as conn:
        await conn.fetch(
            "SELECT missing FROM public.slots_document_in($1, $2, $3, $4, 'UTC', $5, $6,"
            " now(), NULL, 'UTC')",
            clinic.tenant.schema, cal["id"], day, day, start, start + timedelta(days=1),
        )  # fmt: skip
        await conn.fetchval("SELECT stats_clinic_zone()")
        await conn.fetchval("SELECT clinic_setting_int('hold_minutes', 10)")
        await conn.fetchval("SELECT unschedule_jobs('no-such-prefix:')")
        await conn.fetch(SWEEP)
        scans = {
            r["relname"]: r["seq_scan"]
            for r in await conn.fetch(
                "SELECT relname, seq_scan FROM pg_stat_xact_user_tables"
                " WHERE schemaname = 'public' AND relname = ANY($1::text[])",
                list(PLATFORM_TABLES),
            )
        }
    assert scans == dict.fromkeys(PLATFORM_TABLES, 0)


async def test_the_hold_sweep_finds_a_clinics_due_hints_by_its_index(clinic: Clinic) -> None:
    """The sweep's scan of ``hold_expiries`` can take the due-time index instead, so no
    sequential scan above is no proof for it. Its schema comparison, as the file writes it,
    must be able to probe the primary key by itself (a bare ``current_schema()`` cannot: each
    clinic's sweep would then read every clinic's due hints)."""
    found = re.search(r"\bd\.schema_name = (current_schema\(\).*?) AND ", SWEEP)
    assert found, "the sweep no longer matches d.schema_name = current_schema()…"
    async with _in_clinic_without_seqscan(clinic) as conn:
        plan = await conn.fetchval(
            "EXPLAIN (FORMAT JSON) SELECT d.appointment_id FROM public.hold_expiries d"
            f" WHERE d.schema_name = {found.group(1)}"
        )
    conditions = [node.get("Index Cond", "") for node in _nodes(json.loads(plan)[0]["Plan"])]
    assert any("current_schema" in c for c in conditions), conditions


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)
