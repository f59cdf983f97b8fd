"""A pooled connection is replaced once it has served CAREBOOK_DB_MAX_CLINICS clinics.

A PostgreSQL backend keeps the catalog entries, compiled PL/pgSQL and plans of every clinic
schema it served (docs/benchmarks.md, issue 16); the bound keeps its memory bounded with
thousands of clinics. A one-connection pool on the real server makes the reuse visible.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from carebook import pools
from carebook.settings import direct_database_url
from carebook.tenancy import Tenant, call_in_schema, platform_tx
from tests.conftest import Clinic, wait_for
from tests.helpers import tenant_backend_pid


@pytest.fixture
async def one_connection(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[asyncpg.Pool]:
    from carebook.piccolo_conf import DB

    pool = await asyncpg.create_pool(direct_database_url(), min_size=1, max_size=1)
    monkeypatch.setattr(DB, "pool", pool)
    monkeypatch.setattr(pools, "_groups", None)  # one pool: no clinic groups
    monkeypatch.delenv("CAREBOOK_PGBOUNCER", raising=False)  # the pool above is direct
    try:
        yield pool
    finally:
        await pool.close()


async def _pid_called(tenant: Tenant) -> int:
    # $1 is the clinic's schema (what an entry point takes first).
    rows = await call_in_schema(tenant, "SELECT pg_backend_pid() AS pid, $1::text AS schema")
    pid: int = rows[0]["pid"]
    return pid


async def _gone(pid: int) -> bool:
    async with platform_tx() as conn:
        alive: bool = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)", pid
        )
    return not alive


async def test_replaced_after_serving_more_clinics_than_the_bound(
    one_connection: asyncpg.Pool,
    make_clinic: Callable[..., Awaitable[Clinic]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CAREBOOK_DB_MAX_CLINICS", "2")
    a, b, c = [(await make_clinic()).tenant for _ in range(3)]

    # Two clinics, again and again, and platform work: the same backend.
    first = {
        await tenant_backend_pid(a),
        await tenant_backend_pid(b),
        await tenant_backend_pid(a),
        await _pid_called(b),
    }
    async with platform_tx() as conn:
        first.add(await conn.fetchval("SELECT pg_backend_pid()"))
    assert len(first) == 1
    (old,) = first

    # A third clinic: served, then the connection is closed; the next use gets a new backend.
    assert await tenant_backend_pid(c) == old
    new = await tenant_backend_pid(a)
    assert new != old
    await wait_for(lambda: _gone(old))

    # call_in_schema counts too: {a} + b + c is three.
    assert await _pid_called(b) == new
    assert await _pid_called(c) == new
    assert await tenant_backend_pid(a) not in (old, new)


@pytest.mark.parametrize(
    "env",
    [{}, {"CAREBOOK_DB_MAX_CLINICS": "2", "CAREBOOK_PGBOUNCER": "1"}],
    ids=["default bound", "behind PgBouncer"],
)
async def test_kept_under_the_default_bound_and_behind_pgbouncer(
    one_connection: asyncpg.Pool,
    make_clinic: Callable[..., Awaitable[Clinic]],
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
) -> None:
    monkeypatch.delenv("CAREBOOK_DB_MAX_CLINICS", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    tenants = [(await make_clinic()).tenant for _ in range(4)]
    pids = {await tenant_backend_pid(t) for t in tenants} | {await _pid_called(t) for t in tenants}
    assert len(pids) == 1
