"""Clinic groups: a clinic's transactions go back to backends that already know it.

A backend's first request for a clinic pays for learning that clinic's catalog and plans
(docs/benchmarks.md, issue 16). carebook.pools sends each clinic to the group its schema
hashes to, and lends another group's idle connection rather than make a request wait.
Real pools on the real server; the backend pid shows which connection served.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY

from carebook import pools
from carebook.errors import DatabaseBusy
from carebook.settings import direct_database_url
from carebook.tenancy import Tenant, call_in_schema, tenant_tx
from tests.conftest import Clinic
from tests.helpers import every_connection, problem, tenant_backend_pid


@asynccontextmanager
async def _installed(made: list[asyncpg.Pool]) -> AsyncIterator[pools.ClinicGroups]:
    """``made`` as this loop's clinic groups; the app's own back, then ``made`` closed."""
    groups = pools.ClinicGroups(made, asyncio.get_running_loop())
    app_groups = pools._groups
    pools._groups = groups
    try:
        yield groups
    finally:
        pools._groups = app_groups  # nothing borrows from these pools once they close
        for pool in made:
            await pools._close(pool)


@pytest.fixture
async def two_groups(
    monkeypatch: pytest.MonkeyPatch, no_sweeper: None
) -> AsyncIterator[pools.ClinicGroups]:
    monkeypatch.setenv("CAREBOOK_DB_MAX_CLINICS", "0")
    made = [
        await asyncpg.create_pool(direct_database_url(), min_size=0, max_size=2) for _ in range(2)
    ]
    async with _installed(made) as groups:
        yield groups


async def _pids_of(pool: asyncpg.Pool) -> set[int]:
    """The backends of ``pool``'s open connections (borrowed one by one, all at once)."""
    async with every_connection(pool) as conns:
        return {c.get_server_pid() for c in conns}


async def _one_per_group(
    groups: pools.ClinicGroups, make_clinic: Callable[..., Awaitable[Clinic]]
) -> tuple[Tenant, Tenant]:
    """Two clinics whose schemas hash to different groups."""
    found: dict[int, Tenant] = {}
    while len(found) < 2:
        tenant = (await make_clinic()).tenant
        found.setdefault(groups.pools.index(groups.home(tenant.schema)), tenant)
    return found[0], found[1]


async def test_a_clinic_is_served_by_its_own_group(
    two_groups: pools.ClinicGroups, make_clinic: Callable[..., Awaitable[Clinic]]
) -> None:
    a, b = await _one_per_group(two_groups, make_clinic)
    pid_a = {await tenant_backend_pid(a) for _ in range(3)}
    rows = await call_in_schema(a, "SELECT pg_backend_pid() AS pid, $1::text AS s")
    pid_a.add(rows[0]["pid"])
    pid_b = {await tenant_backend_pid(b) for _ in range(3)}
    assert len(pid_a) == 1 and len(pid_b) == 1  # sequential work: one backend each
    assert pid_a <= await _pids_of(two_groups.pools[0])
    assert pid_b <= await _pids_of(two_groups.pools[1])
    assert pid_a != pid_b


async def test_a_busy_group_borrows_an_idle_connection_instead_of_waiting(
    two_groups: pools.ClinicGroups, make_clinic: Callable[..., Awaitable[Clinic]]
) -> None:
    a, b = await _one_per_group(two_groups, make_clinic)
    await tenant_backend_pid(b)  # group 1 has an idle connection
    home = two_groups.pools[0]
    async with AsyncExitStack() as stack:
        held = [await stack.enter_async_context(home.acquire()) for _ in range(2)]
        assert home.get_idle_size() == 0 and home.get_size() == home.get_max_size()
        # Group 0 is all borrowed: clinic a's transaction runs on group 1's backend, now.
        pid = await asyncio.wait_for(tenant_backend_pid(a), timeout=5)
        assert pid in await _pids_of(two_groups.pools[1])
        assert pid not in {c.get_server_pid() for c in held}


async def test_a_busy_group_opens_a_connection_in_a_group_with_room_instead_of_waiting(
    two_groups: pools.ClinicGroups, make_clinic: Callable[..., Awaitable[Clinic]]
) -> None:
    """Groups start empty (min_size 0) and drop idle connections: a group with nothing open
    yet still has room. A busy clinic's group must not cap it at the group's size while
    another group could open a connection (one hot clinic would get 3 of 20 connections)."""
    a, _ = await _one_per_group(two_groups, make_clinic)
    home, other = two_groups.pools
    assert other.get_size() == 0  # nothing open in group 1: no idle connection to borrow
    async with AsyncExitStack() as stack:
        held = [await stack.enter_async_context(home.acquire()) for _ in range(2)]
        assert home.get_idle_size() == 0 and home.get_size() == home.get_max_size()
        pid = await asyncio.wait_for(tenant_backend_pid(a), timeout=5)
        assert pid not in {c.get_server_pid() for c in held}
        assert pid in await _pids_of(other)


async def test_a_burst_on_empty_groups_opens_connections_in_other_groups(
    two_groups: pools.ClinicGroups, make_clinic: Callable[..., Awaitable[Clinic]]
) -> None:
    """Four transactions of one clinic at once, groups of two, nothing open yet. asyncpg
    counts only open connections, so while the first two are still being opened the home
    group looks empty: without our own count all four queued there."""
    a, _ = await _one_per_group(two_groups, make_clinic)
    home, other = two_groups.pools
    assert home.get_size() == other.get_size() == 0

    async def hold() -> int:
        async with tenant_tx(a) as conn:
            pid: int = await conn.fetchval("SELECT pg_backend_pid() FROM pg_sleep(0.2)")
        return pid

    pids = await asyncio.wait_for(asyncio.gather(*(hold() for _ in range(4))), timeout=10)
    assert len(set(pids)) == 4  # four backends at once: none waited for another
    assert home.get_size() == other.get_size() == 2
    assert two_groups.claimed == {id(home): 0, id(other): 0}


async def test_every_group_busy_waits_for_the_home_group(
    two_groups: pools.ClinicGroups, make_clinic: Callable[..., Awaitable[Clinic]]
) -> None:
    a, _ = await _one_per_group(two_groups, make_clinic)
    async with AsyncExitStack() as stack:
        home_held = [
            await stack.enter_async_context(two_groups.pools[0].acquire()) for _ in range(2)
        ]
        for _ in range(2):
            await stack.enter_async_context(two_groups.pools[1].acquire())
        waiting = asyncio.ensure_future(tenant_backend_pid(a))
        done, _ = await asyncio.wait({waiting}, timeout=0.2)
        assert not done  # nothing idle anywhere: it waits
        released = home_held[0].get_server_pid()
        await two_groups.pools[0].release(home_held[0])
        assert await asyncio.wait_for(waiting, timeout=5) == released


async def test_no_connection_free_in_time_is_a_503_not_a_wait_forever(
    two_groups: pools.ClinicGroups,
    client: httpx.AsyncClient,
    clinic: Clinic,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CAREBOOK_DB_ACQUIRE_TIMEOUT", "0.3")
    before = _acquire_timeouts()
    async with AsyncExitStack() as stack:
        for pool in two_groups.pools:
            for _ in range(pool.get_max_size()):
                await stack.enter_async_context(pool.acquire())
        with pytest.raises(DatabaseBusy):
            await tenant_backend_pid(clinic.tenant)
        busy = await client.get(f"{clinic.public}/catalog")
        problem(busy, 503, "busy_retry")
        assert busy.headers["retry-after"] == "1"
    assert _acquire_timeouts() == before + 2
    assert (await client.get(f"{clinic.public}/catalog")).status_code == 200


async def test_ready_fails_while_a_clinic_group_cannot_connect(
    client: httpx.AsyncClient, no_sweeper: None
) -> None:
    """The platform pool's open connections answer, but a group (started empty) cannot open
    one: clinic requests would fail, so the process is not ready."""
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    dead = await asyncpg.create_pool(f"postgresql://postgres@127.0.0.1:{closed}/x", min_size=0)
    good = await asyncpg.create_pool(direct_database_url(), min_size=0, max_size=2)
    async with _installed([good, dead]):
        body = (await client.get("/ready")).json()
        assert body["status"] == "not_ready"
        assert body["checks"]["database"]["detail"].startswith("a clinic group's connection")
        pools._groups = pools.ClinicGroups([good], asyncio.get_running_loop())
        ready = await client.get("/ready")
        assert ready.status_code == 200, ready.text


def _acquire_timeouts() -> float:
    value = REGISTRY.get_sample_value("carebook_db_acquire_timeouts_total")
    return value or 0.0


@pytest.mark.parametrize(
    ("size", "env", "groups", "platform", "each"),
    [
        (20, {}, 5, 5, 3),
        (10, {}, 2, 2, 4),
        (8, {}, 2, 2, 3),
        (7, {}, 0, 7, 0),
        (20, {"CAREBOOK_DB_GROUPS": "1"}, 0, 20, 0),
        (20, {"CAREBOOK_DB_GROUPS": "0"}, 0, 20, 0),
        (20, {"CAREBOOK_DB_GROUPS": "50"}, 9, 2, 2),
        (20, {"CAREBOOK_PGBOUNCER": "1"}, 0, 20, 0),
    ],
)
def test_group_sizes_add_up_to_the_pool(
    monkeypatch: pytest.MonkeyPatch,
    size: int,
    env: dict[str, str],
    groups: int,
    platform: int,
    each: int,
) -> None:
    monkeypatch.delenv("CAREBOOK_DB_GROUPS", raising=False)
    monkeypatch.delenv("CAREBOOK_PGBOUNCER", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert pools.group_count(size) == groups
    if groups:
        assert pools.group_sizes(size, groups) == (platform, each)
        assert platform + groups * each == size


async def test_piccolo_queries_wait_no_longer_than_ours(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, no_sweeper: None
) -> None:
    """Piccolo's ORM, its transactions and the admin's session checks take connections of
    the platform pool without a timeout of their own; through ``pools.PlatformPool`` they
    give up after ``CAREBOOK_DB_ACQUIRE_TIMEOUT`` as ``carebook.tenancy`` does."""
    from piccolo.apps.user.tables import BaseUser

    from carebook.piccolo_conf import DB

    monkeypatch.setenv("CAREBOOK_DB_ACQUIRE_TIMEOUT", "0.3")
    assert isinstance(DB.pool, pools.PlatformPool)
    before = _acquire_timeouts()
    async with AsyncExitStack() as stack:
        admin = await stack.enter_async_context(
            httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
        )
        assert (await admin.get("/admin/")).status_code == 200  # its CSRF cookie
        for _ in range(DB.pool.get_max_size()):
            await stack.enter_async_context(DB.pool.raw.acquire(timeout=5))
        with pytest.raises(DatabaseBusy):
            await asyncio.wait_for(BaseUser.count(), timeout=5)
        with pytest.raises(DatabaseBusy):
            async with DB.transaction():
                pass
        # The admin's sign-in checks the user with Piccolo's ORM.
        signing_in = await asyncio.wait_for(admin.post(
            "/admin/public/login/", json={"username": "nobody", "password": "x"},
            headers={"X-CSRFToken": admin.cookies.get("csrftoken", "")}), timeout=10)  # fmt: skip
        problem(signing_in, 503, "busy_retry")
    assert _acquire_timeouts() >= before + 3
    await asyncio.wait_for(BaseUser.count(), timeout=5)  # answers again
