"""Lifecycle benchmark (issue 11): transitions per second on one app process, and commit →
actor start latency through the job relay and Dramatiq, against Dramatiq's own enqueue →
start latency (the floor) on the same machine, broker and worker, in the same run.

Run: ``.venv/bin/python bench/lifecycle.py [--clinics 1000] [--seconds 20] [--rate 100]``.
Uses DATABASE_URL's server or the embedded PostgreSQL, in its own database
``carebook_bench_lifecycle``; one uvicorn app process (which runs the relay) and one Dramatiq
worker process (8 threads).
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


async def _clinic(i: int, appointments: int) -> tuple[Any, list[Any], str]:
    """One clinic with one specialist and ``appointments`` booked appointments (SQL calls)."""
    from carebook.tenancy import tenant_tx
    from tenants.service import find_tenant, onboard_clinic

    slug = f"bench-{i:05d}"
    _, token = await onboard_clinic(slug=slug, name=f"Bench {i}", timezone=ZONE,
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


async def _paced_cancels(targets: list[tuple[str, Any]], rate: float, seconds: float) -> int:
    """Cancel appointments of many clinics at ``rate`` per second (direct SQL calls)."""
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=4, max_size=16)
    sent, started = 0, time.perf_counter()
    tasks = []
    for schema, aid in targets:
        due = started + sent / rate
        if due - started > seconds:
            break
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(pool.execute(
            f'SELECT * FROM "{schema}".transition_appointment($1, \'cancel\', NULL, '
            "'staff', NULL, 'bench')", aid)))  # fmt: skip
        sent += 1
    await asyncio.gather(*tasks)
    await pool.close()
    return sent


async def _paced_floor(rate: float, n: int) -> None:
    import lifecycle_actors

    for i in range(n):
        lifecycle_actors.floor.send(time.time())
        await asyncio.sleep(1 / rate)
        del i


def _latencies(key: str) -> list[float]:
    import redis

    return [
        float(x) * 1000 for x in redis.Redis.from_url(os.environ["REDIS_URL"]).lrange(key, 0, -1)
    ]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clinics", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--throughput-appointments", type=int, default=1500)
    return parser.parse_args()


async def main(args: argparse.Namespace) -> None:
    os.environ["CAREBOOK_QUEUE_NAMESPACE"] = f"bench-lifecycle-{os.getpid()}"
    os.environ["CAREBOOK_ACTOR_MODULES"] = "lifecycle_actors"
    # src first: bench/ holds scripts named like packages (video.py, stats.py).
    os.environ["PYTHONPATH"] = f"{ROOT / 'src'}:{ROOT / 'bench'}"
    sys.path.append(str(ROOT / "bench"))
    from carebook.migrations import migrate_all

    await migrate_all(os.environ["DATABASE_URL"])
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    await conn.execute("INSERT INTO public.lifecycle_effects VALUES ('cancelled', 'bench.probe') "
                       "ON CONFLICT DO NOTHING")  # fmt: skip
    per_clinic = max(1, round(args.rate * args.seconds / args.clinics) + 1)
    t0 = time.perf_counter()
    clinics = []
    for i in range(args.clinics):
        clinics.append(await _clinic(i, per_clinic))
    print(
        f"set-up: {args.clinics} clinics × {per_clinic} appointments in "
        f"{time.perf_counter() - t0:.0f} s"
    )
    big_tenant, big_ids, big_token = await _clinic(99999, args.throughput_appointments)
    await conn.close()

    import redis

    r = redis.Redis.from_url(os.environ["REDIS_URL"])
    r.delete("bench:lat:relay", "bench:lat:floor")
    port = 8765
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    app = _start([sys.executable, "-m", "uvicorn", "carebook.app:create_app", "--factory",
                  "--port", str(port), "--log-level", "warning"],
                 {"CAREBOOK_RELAY": "1"}, "bench-lifecycle-app.log")  # fmt: skip
    worker = _start(
        [
            sys.executable,
            "-m",
            "dramatiq",
            "carebook.actors",
            "lifecycle_actors",
            "--processes",
            "1",
            "--threads",
            "8",
        ],
        {},
        "bench-lifecycle-worker.log",
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
        print(f"machine: {machine()}; load before: {os.getloadavg()}")
        tps = await _throughput(base, big_tenant.slug, big_token, big_ids, 16)
        print(f"transitions/s (HTTP confirm, one app process, 16 in flight): {tps:.0f}")
        await asyncio.sleep(2)
        targets = [(t.schema, aid) for n in range(per_clinic) for t, ids, _ in clinics
                   for aid in ids[n:n + 1]]  # fmt: skip
        floor_n = int(args.rate * args.seconds)
        sent, _ = await asyncio.gather(_paced_cancels(targets, args.rate, args.seconds),
                                       _paced_floor(args.rate, floor_n))  # fmt: skip
        deadline = time.time() + 30
        while time.time() < deadline and (
            r.llen("bench:lat:relay") < sent or r.llen("bench:lat:floor") < floor_n
        ):
            await asyncio.sleep(0.2)
        relay, floor = _latencies("bench:lat:relay"), _latencies("bench:lat:floor")
        print(f"paced {sent} transitions at {args.rate:.0f}/s over {args.clinics} clinics")
        for name, values in (
            ("relay (commit -> actor start)", relay),
            ("floor (Dramatiq enqueue -> start)", floor),
        ):
            print(
                f"  {name}: n={len(values)} p50 {percentile(values, 0.5):.1f} ms, "
                f"p99 {percentile(values, 0.99):.1f} ms"
            )
        print(
            f"relay adds p99 {percentile(relay, 0.99) - percentile(floor, 0.99):.1f} ms over "
            f"the floor (goal < 20 ms); load after: {os.getloadavg()}"
        )
    finally:
        for proc in (app, worker):
            os.killpg(proc.pid, 15)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)


if __name__ == "__main__":
    cli_args = parse_args()
    prepare("carebook_bench_lifecycle")
    asyncio.run(main(cli_args))
