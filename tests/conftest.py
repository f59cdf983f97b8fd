"""Test fixtures: real PostgreSQL and Redis (embedded by default, or DATABASE_URL/REDIS_URL).

Each pytest process gets its own fresh database (``carebook_test_<worker>``) and Redis
database number; every test onboards its own clinics, so tests run in any order.
"""

from __future__ import annotations

import asyncio
import atexit
import inspect
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

pytest_plugins = ["tests.hang_watchdog"]
ROOT = Path(__file__).resolve().parents[1]
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
# The tests' own data directory, whatever CAREBOOK_DATA_DIR says: its embedded cluster runs
# without fsync (carebook.runtime.ensure_postgres(throwaway=True)), never a user's data.
os.environ["CAREBOOK_DATA_DIR"] = os.environ.get("CAREBOOK_TEST_DATA_DIR") or str(
    ROOT / ".carebook" / "test"
)
# Public limits are exercised by their own tests; elsewhere they would only add noise.
os.environ.setdefault("CAREBOOK_HOLD_RATE", "100000")
os.environ.setdefault("CAREBOOK_BOOKING_RATE", "100000")
os.environ.setdefault("CAREBOOK_LOGIN_RATE", "100000")
os.environ.setdefault("CAREBOOK_READ_RATE", "100000")
os.environ.setdefault("CAREBOOK_STREAM_RATE", "100000")
# Tests change clinic settings behind live servers' backs; no per-process clinic cache.
os.environ.setdefault("CAREBOOK_TENANT_CACHE_SECONDS", "0")
# Jobs stay in public.job_outbox unless a test runs a relay (the `jobs_running` fixture), so
# tests can read exactly what a transition wrote.
os.environ.setdefault("CAREBOOK_RELAY", "0")
# Workers killed by tests give their messages back within seconds, not a minute.
os.environ.setdefault("CAREBOOK_WORKER_HEARTBEAT_MS", "3000")
os.environ.setdefault("CAREBOOK_QUEUE_MAINTENANCE_CHANCE", "200000")
# A task asking for a second pooled connection while it holds one is an error here (it could
# deadlock a small pool in production; carebook.tenancy._connection).
os.environ.setdefault("CAREBOOK_NESTED_CONNECTIONS", "fail")


def _prepare_services() -> tuple[str, str]:
    from carebook.runtime import create_database, ensure_postgres, ensure_redis, with_database
    from carebook.settings import get_settings

    data_dir = get_settings().data_dir
    server_url = os.environ.get("TEST_DATABASE_URL") or ensure_postgres(data_dir, throwaway=True)
    # One database per pytest process, so parallel runs on one server never meet.
    db_url = with_database(server_url, f"carebook_test_{WORKER}_{os.getpid()}")
    # Through PgBouncer (TEST_DATABASE_URL its port): session-level work goes to the server,
    # and so do CREATE/DROP DATABASE (two xdist workers' first statements through PgBouncer
    # met on one server connection's prepared statement name).
    own_url = db_url
    if direct := os.environ.get("TEST_DIRECT_DATABASE_URL"):
        own_url = with_database(direct, urlsplit(db_url).path[1:])
        os.environ["CAREBOOK_DIRECT_DATABASE_URL"] = own_url
    asyncio.run(create_database(own_url, drop_first=True))
    atexit.register(_drop_database, own_url)
    if "PYTEST_XDIST_WORKER" not in os.environ:  # once per run: the controller, or no xdist
        asyncio.run(_drop_invalid_leftovers(own_url))
    redis_url = ensure_redis(data_dir)
    os.environ["DATABASE_URL"] = db_url
    os.environ["REDIS_URL"] = redis_url
    os.environ["CAREBOOK_QUEUE_NAMESPACE"] = namespace = f"carebook-test-{os.getpid()}"
    atexit.register(_drop_queue_keys, redis_url, namespace)
    return db_url, redis_url


def _drop_queue_keys(redis_url: str, namespace: str) -> None:
    """This run's Dramatiq keys (queues, acks, heartbeats): the machine's Redis outlives it."""
    import redis

    try:
        client = redis.Redis.from_url(redis_url, socket_timeout=5)
        for key in client.scan_iter(f"{namespace}:*", count=500):
            client.delete(key)
    except redis.RedisError as exc:  # the server may already be gone
        print(f"note: could not delete the queue keys of {namespace}: {exc}")


# DROP DATABASE waits for a checkpoint; on a slow disk with fsync on (the machine's server)
# that took minutes. Past this the database is left behind, with a note.
DROP_TIMEOUT = "90s"


async def drop_database(url: str) -> None:
    """Drop the database ``url`` names (connections forced out); never fails the run."""
    import asyncpg

    from carebook.runtime import with_database

    name = urlsplit(url).path.lstrip("/")
    try:
        conn = await asyncpg.connect(
            with_database(url, "postgres"), server_settings={"statement_timeout": DROP_TIMEOUT}
        )
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
    except Exception as exc:  # the server may already be gone
        print(f"note: could not drop test database {name}: {exc}")


def _drop_database(url: str) -> None:
    asyncio.run(drop_database(url))


async def _drop_invalid_leftovers(url: str) -> None:
    """Test databases whose DROP was cut off by DROP_TIMEOUT: PostgreSQL (15.5+) marks them
    invalid (``datconnlimit`` -2) and keeps their files; no later run would drop them."""
    import asyncpg

    from carebook.runtime import with_database

    conn = await asyncpg.connect(with_database(url, "postgres"))
    try:
        names = await conn.fetch(
            "SELECT datname FROM pg_database WHERE datconnlimit = -2"
            " AND (datname LIKE 'carebook\\_test\\_%' OR datname LIKE 'carebook\\_restore\\_%')"
        )
    finally:
        await conn.close()
    for row in names:
        await drop_database(with_database(url, row["datname"]))


# The suite's own embedded server (no TEST_DATABASE_URL, no DATABASE_URL): its settings are
# ours. Decided once, before anything sets DATABASE_URL: xdist workers inherit the
# controller's environment, DATABASE_URL included.
os.environ.setdefault(
    "CAREBOOK_TEST_EMBEDDED",
    "0" if os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL") else "1",
)
EMBEDDED = os.environ["CAREBOOK_TEST_EMBEDDED"] == "1"
DATABASE_URL, REDIS_URL = _prepare_services()

from carebook.app import create_app  # noqa: E402 - needs the URLs above
from carebook.migrations import migrate_all  # noqa: E402
from carebook.tenancy import Tenant  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
async def migrated() -> None:
    await migrate_all(os.environ.get("CAREBOOK_DIRECT_DATABASE_URL") or DATABASE_URL)


@pytest.fixture(scope="session")
async def client(migrated: None) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client; the app's lifespan runs in the tests' own event loop."""
    app = create_app()
    # Hooks are called directly: anyio's lifespan task group cannot span fixture tasks.
    for hook in app.on_startup:
        await _call_hook(hook, app)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
    for hook in app.on_shutdown:
        await _call_hook(hook, app)


async def _call_hook(hook: Any, app: Any) -> None:
    result = hook(app) if inspect.signature(hook).parameters else hook()
    if inspect.isawaitable(result):
        await result


@pytest.fixture(scope="session")
async def platform_token(migrated: None) -> str:
    from carebook.platform_users import create_platform_admin

    token = await create_platform_admin(
        "root", "root@carebook.test", "root-password-1", with_token=True
    )
    assert token
    return token


@dataclass
class Clinic:
    slug: str
    tenant: Tenant
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def api(self) -> str:
        return f"/api/v1/clinics/{self.slug}"

    @property
    def public(self) -> str:
        return f"/api/v1/clinics/{self.slug}/public"


def unique_slug(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def make_clinic(migrated: None) -> Callable[..., Awaitable[Clinic]]:
    from tenants.service import find_tenant, onboard_clinic

    async def make(timezone: str = "Europe/Berlin", slug: str | None = None) -> Clinic:
        slug = slug or unique_slug()
        _, token = await onboard_clinic(
            slug=slug, name=f"Clinic {slug}", timezone=timezone, admin_email=f"admin@{slug}.test"
        )
        return Clinic(slug, await find_tenant(slug), token)

    return make


@pytest.fixture
async def clinic(make_clinic: Callable[..., Awaitable[Clinic]]) -> Clinic:
    return await make_clinic()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def start_live_server(name: str, extra_env: dict[str, str] | None = None) -> LiveServer:
    """A real uvicorn process of the app (streams and races need real HTTP)."""
    port = _free_port()
    log = ROOT / "test-artifacts" / f"server-{WORKER}-{os.getpid()}-{name}.log"
    log.parent.mkdir(exist_ok=True)
    env = {**os.environ, **(extra_env or {}), "CAREBOOK_BASE_URL": f"http://127.0.0.1:{port}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "carebook.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + 60  # a loaded 2-core machine starts slowly
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"live server did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    return LiveServer(f"http://127.0.0.1:{port}", proc, log)


def stop_live_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def live_server(migrated: None) -> Iterator[LiveServer]:
    server = start_live_server("a")
    yield server
    stop_live_server(server)


@pytest.fixture(scope="session")
def live_server_b(migrated: None) -> Iterator[LiveServer]:
    server = start_live_server("b")
    yield server
    stop_live_server(server)


@dataclass
class JobsRunning:
    """A relay and an in-process Dramatiq worker (threads) of this test process."""

    relay: Any
    worker: Any


@pytest.fixture
async def jobs_running(client: httpx.AsyncClient) -> AsyncIterator[JobsRunning]:
    """The job relay (on the tests' loop) and a Dramatiq worker, for tests of actors.

    Actors run on the worker's AsyncIO loop with their own pool; jobs of every clinic of
    this pytest process flow while it runs.
    """
    import dramatiq

    import carebook.actors  # noqa: F401 - declares every actor
    from carebook.broker import broker
    from carebook.jobs.relay import Relay

    # Jobs that earlier tests of this process left in the outbox (no relay runs by default)
    # are not this test's business: running them all first would only make it slow.
    await clear_job_outbox()
    relay = Relay(DATABASE_URL)
    await relay.start()
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        yield JobsRunning(relay, worker)
    finally:
        await relay.stop()
        await asyncio.to_thread(worker.stop)


@pytest.fixture
async def no_sweeper() -> AsyncIterator[None]:
    """The in-process app's hold sweeper paused: tests that take a pool's connections or
    swap its pools must not share them with a background task on the same loop."""
    from bookings import sweeper

    running = sweeper._task is not None and not sweeper._task.done()
    await sweeper.stop_sweeper()
    try:
        yield
    finally:
        if running:
            await sweeper.start_sweeper()


async def clear_job_outbox() -> None:
    """Empty this process's job outbox (jobs that earlier tests left, no relay running)."""
    import asyncpg

    conn = await asyncpg.connect(DATABASE_URL)
    try:
        await conn.execute("DELETE FROM public.job_outbox")
    finally:
        await conn.close()


async def wait_for(check: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
    """Poll ``check`` (a database read) until it returns a truthy value; its value.

    For effects in another process or thread (a worker's actor), where no event of ours
    can be awaited; each poll is a query, never a blind sleep of the expected duration.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.05)
