"""Lifecycle benchmark (issue 11): transitions per second on one app process, and commit →
actor start latency through the job relay and Dramatiq, against Dramatiq's own enqueue →
start latency (the floor) on the same machine, broker and worker, in the same run.

Run: ``.venv/bin/python bench/lifecycle.py [--clinics 1000] [--seconds 20] [--rate 100]``.
Uses DATABASE_URL's server or the embedded PostgreSQL, in its own database
``carebook_bench_lifecycle``; one uvicorn app process (which runs the relay) and two identical
Dramatiq worker processes (8 threads each): one serves the relay's probe jobs, one the floor's
messages. In the paced phase a cancel causes only the probe job (the bench database's
``lifecycle_effects`` is reduced to it), so the two series differ by the relay alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from common import ROOT, machine, percentile, prepare

ZONE = "Europe/Berlin"
SLOTS_PER_DAY = 48  # 10-minute slots, 09:00-17:00


async def _clinic(slug: str, appointments: int) -> tuple[Any, list[Any], str]:
    """One clinic with one specialist and ``appointments`` upcoming appointments (SQL calls)."""
    from carebook.tenancy import tenant_tx
    from tenants.service import find_tenant, onboard_clinic

    _, token = await onboard_clinic(slug=slug, name=f"Bench {slug}", timezone=ZONE,
                                    admin_email=f"admin@{slug}.test")  # fmt: skip
    tenant = await find_tenant(slug)
    async with tenant_tx(tenant) as conn:
        sid = await conn.fetchval(
            "INSERT INTO specialists (name, email, timezone) VALUES ('Dr B', 'b@b.test', $1) "
            "RETURNING id", ZONE)  # fmt: skip
        await conn.executemany(
            "INSERT INTO weekly_intervals (specialist_id, isodow, starts, ends) "
            "VALUES ($1, $2, '09:00', '17:00')", [(sid, d) for d in range(1, 8)])  # fmt: skip
        service = await conn.fetchval(
            "INSERT INTO services (name, default_duration_minutes) VALUES ('B', 10) RETURNING id"
        )
        cal = await conn.fetchval(
            "INSERT INTO calendars (service_id, name, slug, price_minor, currency, "
            "duration_minutes, min_notice_minutes, horizon_days) "
            "VALUES ($1, 'B', 'b', 1000, 'EUR', 10, 0, 365) RETURNING id", service)  # fmt: skip
        await conn.execute("INSERT INTO calendar_specialists VALUES ($1, $2)", cal, sid)
        first_day = datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=3)
        ids = []
        for n in range(appointments):
            day, k = divmod(n, SLOTS_PER_DAY)
            midnight = datetime.combine(first_day + timedelta(days=day), datetime.min.time(),
                                        ZoneInfo(ZONE))  # fmt: skip
            start = midnight + timedelta(hours=9, minutes=10 * k)
            token_hash = uuid.uuid4().bytes
            hold = await conn.fetchrow("SELECT * FROM hold_slot($1, $2, NULL, NULL, $3, 10, $4)",
                                       cal, start, token_hash, ZONE)  # fmt: skip
            await conn.fetchrow(
                "SELECT * FROM book_hold($1, $2, $3, $4, $5, 'Pat', NULL, $6, NULL, NULL, $7, "
                "NULL, 'patient', NULL)",
                str(uuid.uuid4()), b"h", hold["id"], token_hash, f"p{n}@b.test", ZONE, b"m",
            )  # fmt: skip
            await conn.fetchrow("SELECT * FROM transition_appointment($1, 'upcoming', NULL, "
                                "'system', NULL, NULL)", hold["id"])  # fmt: skip
            ids.append(hold["id"])
    return tenant, ids, token


def _start(cmd: list[str], env: dict[str, str], log: str) -> subprocess.Popen[bytes]:
    out = (ROOT / "test-artifacts" / log).open("wb")
    return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


async def _throughput(base: str, slug: str, token: str, ids: list[Any], clients: int) -> float:
    """HTTP confirm of every appointment at ``clients`` in flight: transitions per second."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for aid in ids:
        queue.put_nowait(aid)
    headers = {"Authorization": f"Bearer {token}"}
    failures = 0

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal failures
        while not queue.empty():
            aid = queue.get_nowait()
            r = await http.post(
                f"{base}/api/v1/clinics/{slug}/appointments/{aid}/transitions",
                json={"action": "confirm", "version": 3},
                headers=headers,
            )
            failures += r.status_code != 200

    async with httpx.AsyncClient(timeout=30) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    if failures:
        print(f"  ({failures} transitions failed)")
    return len(ids) / elapsed


async def _paced_cancels(
    targets: list[tuple[str, Any]], rate: float, seconds: float
) -> dict[str, float]:
    """Cancel appointments of many clinics at ``rate`` per second (direct SQL calls); returns
    each appointment's commit-acknowledged time (``time.time()`` when the call returned)."""
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=8, max_size=16)
    acked: dict[str, float] = {}

    async def cancel(schema: str, aid: Any) -> None:
        await pool.execute(
            "SELECT * FROM public.transition_appointment_in($1, $2, 'cancel', NULL, "
            "'staff', NULL, 'bench')",
            schema,
            aid,
        )
        acked[str(aid)] = time.time()

    started = time.perf_counter()
    tasks = []
    for sent, (schema, aid) in enumerate(targets):
        due = started + sent / rate
        if due - started > seconds:
            break
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(cancel(schema, aid)))
    await asyncio.gather(*tasks)
    await pool.close()
    return acked


def _paced_floor(rate: float, n: int) -> None:
    """Dramatiq's own sends, paced like the cancels, from a thread of their own."""
    import lifecycle_actors

    started = time.perf_counter()
    for i in range(n):
        time.sleep(max(0.0, started + i / rate - time.perf_counter()))
        lifecycle_actors.floor.send(time.time())


def _floor_latencies() -> list[float]:
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    return [float(x) * 1000 for x in client.lrange("bench:lat:floor", 0, -1)]


def _relay_starts() -> dict[str, float]:
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    return {k.decode(): float(v) for k, v in client.hgetall("bench:start:relay").items()}


async def _transaction_times(targets: list[tuple[str, Any]]) -> dict[str, float]:
    """Each cancel's history timestamp (its transaction's start: an upper bound on commit)."""
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    by_schema: dict[str, list[Any]] = {}
    for schema, aid in targets:
        by_schema.setdefault(schema, []).append(aid)
    at: dict[str, float] = {}
    for schema, ids in by_schema.items():
        rows = await conn.fetch(
            f'SELECT appointment_id, at FROM "{schema}".appointment_history '
            "WHERE appointment_id = ANY($1::uuid[]) AND to_status = 'cancelled'",
            ids,
        )
        at.update({str(r["appointment_id"]): r["at"].timestamp() for r in rows})
    await conn.close()
    return at


def _worker(queue: str, log: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "dramatiq", "carebook.actors", "lifecycle_actors",
           "--processes", "1", "--threads", "8", "--queues", queue]  # fmt: skip
    return _start(cmd, {}, log)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clinics", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--throughput-appointments", type=int, default=1500)
    parser.add_argument("--keep", action="store_true",
                        help="reuse the previous run's database and clinics")  # fmt: skip
    return parser.parse_args()


async def _setup(args: argparse.Namespace, per_clinic: int) -> list[tuple[str, Any]]:
    """``--clinics`` clinics (four onboarded at a time) with ``per_clinic`` upcoming
    appointments each to cancel; ``--keep`` reuses a previous run's clinics (made with three
    runs' worth of appointments)."""
    from carebook.errors import TenantNotFound
    from carebook.tenancy import tenant_tx
    from tenants.service import find_tenant

    gate = asyncio.Semaphore(4)

    async def one(i: int) -> list[tuple[str, Any]]:
        async with gate:
            slug = f"bench-{i:05d}"
            try:
                tenant = await find_tenant(slug)
            except TenantNotFound:
                tenant, _, _ = await _clinic(slug, 3 * per_clinic)
            async with tenant_tx(tenant) as conn:
                ids = await conn.fetch(
                    "SELECT id FROM appointments WHERE status = 'upcoming' "
                    "ORDER BY starts_at LIMIT $1",
                    per_clinic,
                )
            if len(ids) < per_clinic:
                raise SystemExit(f"{slug}: too few upcoming appointments left; drop --keep")
            return [(tenant.schema, r["id"]) for r in ids]

    return [t for ts in await asyncio.gather(*(one(i) for i in range(args.clinics))) for t in ts]


async def _outbox_drained(conn: asyncpg.Connection, timeout: float = 600) -> tuple[int, float]:
    """Wait until the relay has emptied the outbox: (jobs it held at first, seconds taken)."""
    first = await conn.fetchval("SELECT count(*) FROM public.job_outbox")
    started = time.perf_counter()
    while await conn.fetchval("SELECT EXISTS (SELECT FROM public.job_outbox)"):
        if time.perf_counter() - started > timeout:
            raise SystemExit("the relay did not empty the outbox")
        await asyncio.sleep(0.05)
    return first, time.perf_counter() - started


async def main(args: argparse.Namespace) -> None:
    os.environ["CAREBOOK_QUEUE_NAMESPACE"] = f"bench-lifecycle-{os.getpid()}"
    os.environ["CAREBOOK_ACTOR_MODULES"] = "lifecycle_actors"
    # src first: bench/ holds scripts named like packages (video.py, stats.py).
    os.environ["PYTHONPATH"] = f"{ROOT / 'src'}:{ROOT / 'bench'}"
    sys.path.append(str(ROOT / "bench"))
    from carebook.migrations import migrate_all

    await migrate_all(os.environ["DATABASE_URL"])
    per_clinic = max(1, round(args.rate * args.seconds / args.clinics) + 1)
    t0 = time.perf_counter()
    targets = await _setup(args, per_clinic)
    # Round-robin over the clinics: consecutive cancels hit different clinics.
    targets = [targets[c * per_clinic + n] for n in range(per_clinic)
               for c in range(args.clinics)]  # fmt: skip
    print(f"set-up: {args.clinics} clinics, {per_clinic} appointments each to cancel, "
          f"{time.perf_counter() - t0:.0f} s")  # fmt: skip
    big_tenant, big_ids, big_token = await _clinic(
        f"bench-t{int(time.time())}", args.throughput_appointments
    )
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])

    import redis

    r = redis.Redis.from_url(os.environ["REDIS_URL"])
    r.delete("bench:start:relay", "bench:lat:floor")
    port = 8765
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    app = _start([sys.executable, "-m", "uvicorn", "carebook.app:create_app", "--factory",
                  "--port", str(port), "--log-level", "warning"],
                 {"CAREBOOK_RELAY": "1"}, "bench-lifecycle-app.log")  # fmt: skip
    # One worker per measured path, identical: the relay's probe jobs and the floor's sends.
    # The other lifecycle jobs (of the throughput phase) wait in their queues unserved.
    workers = [
        _worker("bench_relay", "bench-lifecycle-worker-relay.log"),
        _worker("bench_floor", "bench-lifecycle-worker-floor.log"),
    ]
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
        print(f"machine: {machine()}; load before: {os.getloadavg()}")
        # The set-up's own jobs (bookings, upcoming) first: the relay's drain rate.
        jobs, took = await _outbox_drained(conn)
        print(f"relay: {jobs} queued jobs handed to Dramatiq in {took:.1f} s "
              f"({jobs / max(took, 1e-9):.0f} jobs/s)")  # fmt: skip
        tps = await _throughput(base, big_tenant.slug, big_token, big_ids, 16)
        print(f"transitions/s (HTTP confirm, one app process, 16 in flight): {tps:.0f}")
        # The paced phase measures the relay alone: a cancel causes one probe job and nothing
        # else (this benchmark's own database; the product's effects are not measured here).
        await conn.execute("DELETE FROM public.lifecycle_effects WHERE event = 'cancelled'")
        await conn.execute(
            "INSERT INTO public.lifecycle_effects VALUES ('cancelled', 'bench.probe')"
        )
        await _outbox_drained(conn)
        await asyncio.sleep(2)
        floor_n = int(args.rate * args.seconds)
        floor_thread = asyncio.create_task(asyncio.to_thread(_paced_floor, args.rate, floor_n))
        acked = await _paced_cancels(targets, args.rate, args.seconds)
        await floor_thread
        deadline = time.time() + 60
        while time.time() < deadline and (
            r.hlen("bench:start:relay") < len(acked) or r.llen("bench:lat:floor") < floor_n
        ):
            await asyncio.sleep(0.2)
        load_after = os.getloadavg()
        starts = _relay_starts()
        at = await _transaction_times([t for t in targets if str(t[1]) in acked])
        await conn.close()
        from_tx = [(starts[a] - at[a]) * 1000 for a in acked if a in starts and a in at]
        from_ack = [(starts[a] - acked[a]) * 1000 for a in acked if a in starts]
        floor = _floor_latencies()
        print(
            f"paced {len(acked)} transitions at {args.rate:.0f}/s over {args.clinics} clinics; "
            f"{len(starts)} probe jobs started, {len(floor)} of {floor_n} floor messages"
        )
        for name, values in (
            ("relay, transaction start -> actor start (upper bound)", from_tx),
            ("relay, commit acknowledged -> actor start (lower bound)", from_ack),
            ("floor, Dramatiq send() -> actor start", floor),
        ):
            print(
                f"  {name}: n={len(values)} p50 {percentile(values, 0.5):.1f} ms, "
                f"p99 {percentile(values, 0.99):.1f} ms, max {max(values):.1f} ms"
            )
        print(
            f"relay adds p99 {percentile(from_tx, 0.99) - percentile(floor, 0.99):.1f} ms "
            f"(upper bound) / {percentile(from_ack, 0.99) - percentile(floor, 0.99):.1f} ms "
            f"(lower bound) over the floor (goal < 20 ms); load after: {load_after}"
        )
    finally:
        for proc in (app, *workers):
            os.killpg(proc.pid, 15)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)


if __name__ == "__main__":
    cli_args = parse_args()
    prepare("carebook_bench_lifecycle", keep=cli_args.keep)
    asyncio.run(main(cli_args))
