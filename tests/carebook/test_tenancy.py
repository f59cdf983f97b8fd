"""Tenant-scoped calls retry serialization failures and deadlocks, against real PostgreSQL.

A function that raises 40001/40P01 on its first calls (a sequence counts the calls: nextval
is not rolled back) stands in for a real collision; like the entry points that
``call_in_schema`` calls, it takes the clinic's schema as ``$1`` (and ignores it: it is
pinned to the test clinic's schema).
"""

from __future__ import annotations

import asyncio
import os

import asyncpg
import httpx
import pytest

from carebook.settings import behind_pgbouncer
from carebook.tenancy import (
    NestedConnection,
    _pool,
    call_in_schema,
    quote_ident,
    run_in_tenant_tx,
    tenant_tx,
)
from tests.conftest import Clinic


async def _flaky(clinic: Clinic, sqlstate: str, failures: int) -> None:
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute(f"""
            CREATE SEQUENCE flaky_calls;
            CREATE FUNCTION flaky(p_schema text) RETURNS integer LANGUAGE plpgsql
            SET search_path FROM CURRENT AS $$
            BEGIN
                IF nextval('flaky_calls') <= {failures} THEN
                    RAISE EXCEPTION 'collided' USING ERRCODE = '{sqlstate}';
                END IF;
                RETURN 42;
            END $$;
        """)  # fmt: skip


def _schema(clinic: Clinic) -> str:
    return quote_ident(clinic.tenant.schema)


async def _calls(clinic: Clinic) -> int:
    async with tenant_tx(clinic.tenant) as conn:
        calls: int = await conn.fetchval("SELECT last_value FROM flaky_calls")
    return calls


@pytest.mark.parametrize("sqlstate", ["40001", "40P01"])
async def test_call_in_schema_retries_collisions(clinic: Clinic, sqlstate: str) -> None:
    await _flaky(clinic, sqlstate, failures=2)
    rows = await call_in_schema(clinic.tenant, f"SELECT {_schema(clinic)}.flaky($1) AS answer")
    assert rows[0]["answer"] == 42
    assert await _calls(clinic) == 3


async def test_run_in_tenant_tx_retries_collisions(clinic: Clinic) -> None:
    await _flaky(clinic, "40001", failures=1)

    async def work(conn: asyncpg.Connection) -> int:
        answer: int = await conn.fetchval("SELECT flaky('')")
        return answer

    assert await run_in_tenant_tx(clinic.tenant, work) == 42
    assert await _calls(clinic) == 2


async def test_collisions_that_outlast_the_retries_are_raised(clinic: Clinic) -> None:
    await _flaky(clinic, "40001", failures=100)
    with pytest.raises(asyncpg.SerializationError):
        await call_in_schema(clinic.tenant, f"SELECT {_schema(clinic)}.flaky($1)", attempts=3)
    assert await _calls(clinic) == 3


@pytest.mark.skipif(
    behind_pgbouncer(),
    reason="PgBouncer 1.18 (Debian 12) aborts under this storm of cancel requests: a cancel "
    "that lands while it re-sends client parameters to a server connection ends in 'FATAL "
    "bad client state' (docs/operations.md). The release on cancellation is our pool's, "
    "tested on direct connections.",
)
async def test_cancelled_transactions_give_their_connections_back(
    client: httpx.AsyncClient, clinic: Clinic, no_sweeper: None
) -> None:
    """A task cancelled anywhere in ``tenant_tx`` (acquire, BEGIN, body, COMMIT) releases its
    pooled connection: a leaked one would make shutdown wait for the pool."""
    from carebook import pools

    # The clinic's own pool: its clinic group's when the app has groups.
    pool = pools.clinic_pool(clinic.tenant.schema) or _pool()
    assert pool is not None

    async def use() -> None:
        async with tenant_tx(clinic.tenant) as conn:
            await conn.execute("SELECT pg_sleep(0.002)")

    for step in range(40):
        tasks = [asyncio.create_task(use()) for _ in range(4)]
        await asyncio.sleep(step * 0.0002)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for each in pools.app_pools():
        assert each.get_idle_size() == each.get_size()
    async with tenant_tx(clinic.tenant) as conn:  # and the connections still work
        assert await conn.fetchval("SELECT count(*) FROM appointments") == 0
    assert pool.get_size() > 0  # the clinic's pool served it


async def test_a_task_never_holds_two_pooled_connections(clinic: Clinic) -> None:
    """CAREBOOK_NESTED_CONNECTIONS=fail (the suite's setting): a second connection asked for
    while the task holds one is an error (a small pool could deadlock on it)."""
    assert os.environ.get("CAREBOOK_NESTED_CONNECTIONS") == "fail"

    async def own() -> int:
        async with tenant_tx(clinic.tenant) as conn:
            return int(await conn.fetchval("SELECT 1"))

    async with tenant_tx(clinic.tenant):
        with pytest.raises(NestedConnection):
            async with tenant_tx(clinic.tenant):
                pass
    assert await own() == 1  # and the task may take one again once it gave it back
