"""The command line and the Dramatiq worker, against the real database and Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import dramatiq

from tests.conftest import ROOT


def carebook(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "carebook", *args],
        capture_output=True, text=True, env=os.environ.copy(), cwd=ROOT, timeout=120,
    )  # fmt: skip


def test_cli_migrate_and_tenants_create(migrated):
    r = carebook("migrate")
    assert r.returncode == 0, r.stderr
    assert "migrated:" in r.stdout
    slug = f"cli{uuid.uuid4().hex[:8]}"
    r = carebook("tenants", "create", "--slug", slug, "--name", "CLI Clinic",
                 "--timezone", "Europe/Lisbon", "--admin-email", "a@cli.test")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "shown once" in r.stdout and "cbk_" in r.stdout
    r = carebook("tenants", "create", "--slug", slug, "--name", "Again",
                 "--timezone", "Europe/Lisbon", "--admin-email", "a@cli.test")  # fmt: skip
    assert r.returncode == 2 and "taken" in r.stderr
    r = carebook("tenants", "create", "--slug", "Bad Slug", "--name", "X",
                 "--timezone", "Nowhere/Land", "--admin-email", "a@cli.test")  # fmt: skip
    assert r.returncode == 2 and "slug" in r.stderr
    r = carebook("tenants", "list")
    assert slug in r.stdout


def test_worker_runs_actors_from_redis(migrated):
    from carebook.actors import ping
    from carebook.broker import broker

    seen: list[str] = []

    @dramatiq.actor(queue_name="test-probe", broker=broker)
    def probe(token: str) -> None:
        seen.append(token)

    broker.flush("test-probe")
    worker = dramatiq.Worker(broker, queues={"test-probe", "default"}, worker_threads=1)
    worker.start()
    try:
        probe.send("hello")
        ping.send("pong")
        broker.join("test-probe", timeout=10_000)
        broker.join("default", timeout=10_000)
    finally:
        worker.stop()
    assert seen == ["hello"]


def test_tenants_create_before_migrate_says_so(migrated):
    import asyncio

    import asyncpg

    from carebook.runtime import create_database, with_database

    url = with_database(os.environ["DATABASE_URL"], f"carebook_unmigrated_{os.getpid()}")
    asyncio.run(create_database(url, drop_first=True))
    try:
        env = {**os.environ, "DATABASE_URL": url}
        for args in (["tenants", "create", "--slug", "fresh", "--name", "Fresh",
                      "--timezone", "Europe/Lisbon", "--admin-email", "a@fresh.test"],
                     ["tenants", "list"]):  # fmt: skip
            r = subprocess.run([sys.executable, "-m", "carebook", *args], capture_output=True,
                               text=True, env=env, cwd=ROOT, timeout=120)  # fmt: skip
            assert r.returncode == 2, (r.stdout, r.stderr)
            assert "run `carebook migrate` first" in r.stderr
            assert "Traceback" not in r.stderr
    finally:

        async def drop() -> None:
            conn = await asyncpg.connect(with_database(url, "postgres"))
            try:
                name = url.rsplit("/", 1)[1]
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()

        asyncio.run(drop())
