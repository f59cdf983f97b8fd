"""Many clinics on one PostgreSQL (issue 16): onboarding rate, migrate times, catalog size,
backend memory after serving many clinics, and slots/hold/booking latency for a random
clinic, cold (first request for that clinic in the app process) and warm.

Run: ``.venv/bin/python bench/tenants_scale.py --clinics 1000 [--database NAME] [--setup-only]``,
then ``--reuse`` to serve an existing database again (``--rounds``, ``--sample``, ``--touch``),
or ``--add`` to keep it and onboard more clinics up to ``--clinics`` (both first apply, and
time, any tenant migration the database lacks). Uses DATABASE_URL's server (or the embedded
one) in its own database (dropped first unless ``--reuse``/``--add``), and one fresh uvicorn
process of the app per round (pool ``--pool``). Prints one JSON line with every figure, then
a readable summary (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
from common import ROOT, machine, percentile, prepare

ZONE = "Europe/Berlin"
WARMUPS = 2  # clinics per round that warm the app process up, not measured
SHARED_MIGRATION = "0160_shared_functions"


async def _onboard(n: int, concurrency: int, first: int = 0) -> float:
    from carebook.piccolo_conf import DB
    from carebook.tenancy import tenant_tx
    from tenants.service import find_tenant, onboard_clinic

    # Pooled connections (no connect per onboarding), replaced every few dozen onboardings:
    # the backend that creates a schema keeps its catalog entries cached (docs/benchmarks.md).
    await DB.start_connection_pool(min_size=1, max_size=concurrency, max_queries=300)
    sem = asyncio.Semaphore(concurrency)
    done = 0
    started = time.perf_counter()

    async def one(i: int) -> None:
        nonlocal done
        async with sem:
            slug = f"scale-{i:05d}"
            await onboard_clinic(slug=slug, name=f"Scale {i}", timezone=ZONE,
                                 admin_email=f"admin{i}@scale.test")  # fmt: skip
            async with tenant_tx(await find_tenant(slug)) as conn:
                sid = await conn.fetchval(
                    "INSERT INTO specialists (name, email, timezone) "
                    "VALUES ('Dr Scale', 'dr@scale.test', $1) RETURNING id",
                    ZONE,
                )
                await conn.executemany(
                    "INSERT INTO weekly_intervals (specialist_id, isodow, starts, ends) "
                    "VALUES ($1, $2, '08:00', '18:00')",
                    [(sid, d) for d in range(1, 8)],
                )
                service = await conn.fetchval(
                    "INSERT INTO services (name, default_duration_minutes) "
                    "VALUES ('Visit', 15) RETURNING id"
                )
                cal = await conn.fetchval(
                    "INSERT INTO calendars (service_id, name, slug, price_minor, currency, "
                    "duration_minutes, min_notice_minutes, horizon_days) "
                    "VALUES ($1, 'Visit', 'visit', 4200, 'EUR', 15, 0, 365) RETURNING id",
                    service,
                )
                await conn.execute(
                    "INSERT INTO calendar_specialists (calendar_id, specialist_id) VALUES ($1, $2)",
                    cal,
                    sid,
                )
            done += 1
            if done % 500 == 0:
                rate = done / (time.perf_counter() - started)
                print(f"  onboarded {done}/{n} ({rate:.1f}/s, load {os.getloadavg()[0]:.1f})",
                      flush=True)  # fmt: skip

    try:
        await asyncio.gather(*(one(i) for i in range(first, first + n)))
    finally:
        await DB.close_connection_pool()
    return time.perf_counter() - started


async def _existing(url: str) -> tuple[int, int]:
    """How many clinics the database has, and the highest ``scale-NNNNN`` number used."""
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, coalesce(max(substr(slug, 7)::int), -1) AS top "
            "FROM public.tenants WHERE slug ~ '^scale-[0-9]+$'"
        )
    finally:
        await conn.close()
    return int(row["n"]), int(row["top"])


@contextlib.contextmanager
def _tenant_migrations(edit: Callable[[tuple[Any, ...]], tuple[Any, ...]]) -> Iterator[None]:
    """The code's tenant migrations as ``edit`` returns them, until the block ends."""
    from carebook import migrations

    original = migrations.tenant_migrations
    edited = edit(original())
    migrations.tenant_migrations = lambda: edited  # type: ignore[assignment]
    try:
        yield
    finally:
        migrations.tenant_migrations = original


async def _migrate_times(url: str) -> tuple[float, float]:
    from carebook.migrations import TenantMigration, migrate_all

    noop = await migrate_all(url)
    extra = TenantMigration(
        "9000_bench_scale_column",
        "bench",
        "ALTER TABLE specialists ADD COLUMN bench_note text;",
    )
    with _tenant_migrations(lambda current: (*current, extra)):
        one = await migrate_all(url)
    return noop.seconds, one.seconds


async def _retention_pass() -> float:
    """Seconds for one event-retention pass over every clinic (nothing old to delete: the
    usual case, each clinic's events being younger than the window)."""
    from datetime import timedelta

    from carebook.events.retention import prune_events

    started = time.perf_counter()
    await prune_events(timedelta(hours=48))
    return time.perf_counter() - started


async def _catalog(url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            """SELECT (SELECT count(*) FROM pg_class) AS relations,
                      pg_total_relation_size('pg_class') AS pg_class_bytes,
                      pg_total_relation_size('pg_attribute') AS pg_attribute_bytes,
                      (SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
                         JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = 'pg_catalog') AS catalog_bytes,
                      pg_database_size(current_database()) AS database_bytes,
                      current_setting('server_version') AS server"""
        )
        return dict(row)
    finally:
        await conn.close()


def _start_server(pool: int) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "CAREBOOK_BASE_URL": f"http://127.0.0.1:{port}",
           "PYTHONPATH": str(ROOT / "src"), "CAREBOOK_DB_POOL": str(pool)}  # fmt: skip
    log = open(ROOT / ".carebook" / "bench" / "tenants-server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "carebook.app:create_app", "--factory", "--host",
         "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 120  # a loaded machine imports slowly
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("the app did not start; see .carebook/bench/tenants-server.log")
        time.sleep(0.1)


def _private_kib(pid: int) -> int | None:
    """A backend's own memory (private pages, not the shared buffers it maps)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    return sum(int(line.split()[1]) for line in text.splitlines()
               if line.startswith(("Private_Clean:", "Private_Dirty:")))  # fmt: skip


async def _backend_memory(url: str) -> dict[str, Any]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        pids = [r["pid"] for r in await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid() "
            "AND coalesce(application_name, '') NOT LIKE 'carebook-listen-%'")]  # fmt: skip
    finally:
        await conn.close()
    sizes = [k for k in (_private_kib(p) for p in pids) if k is not None]
    return {"backends": len(pids), "max_mib": round(max(sizes, default=0) / 1024, 1),
            "mean_mib": round(sum(sizes) / max(len(sizes), 1) / 1024, 1)}  # fmt: skip


async def _latency(url: str, warmups: list[int], picks: list[int],
                   lat: dict[str, list[float]]) -> None:  # fmt: skip
    """One app process's flows: a few warm-up clinics, then each picked clinic twice."""
    zone = ZoneInfo(ZONE)
    today = datetime.now(zone).date()
    async with aiohttp.ClientSession() as http:

        async def timed(method: str, path: str, **kw: Any) -> tuple[float, Any]:
            t0 = time.perf_counter()
            async with http.request(method, url + path, **kw) as r:
                body = await r.json()
                if r.status >= 400:
                    raise RuntimeError(f"{method} {path}: {r.status} {body}")
            return time.perf_counter() - t0, body

        async def flow(slug: str, temp: str) -> None:
            # A random day, and a start the slots answer lists as free (a patient's pick):
            # reruns on the same clinics (--reuse, rounds) never ask for a booked one.
            day = today + timedelta(days=random.randrange(2, 360))
            base = f"/api/v1/clinics/{slug}/public"
            dt, body = await timed("GET", f"{base}/calendars/by-slug/visit")
            lat[f"calendar_{temp}"].append(dt)
            cal_id = body["id"]
            cal = f"{base}/calendars/{cal_id}/slots"
            dt, slots = await timed("GET", cal, params={"start": day.isoformat(),
                                                        "end": day.isoformat()})  # fmt: skip
            lat[f"slots_{temp}"].append(dt)
            free = [s["start"] for d in slots["days"] for s in d["slots"]]
            if not free:
                raise RuntimeError(f"{slug}: no free slot on {day}")
            body = {"calendar_id": cal_id, "start": random.choice(free)}
            dt, hold = await timed("POST", f"{base}/holds", json=body)
            lat[f"hold_{temp}"].append(dt)
            dt, _ = await timed("POST", f"{base}/bookings", headers={
                "Idempotency-Key": str(uuid.uuid4())}, json={
                "hold_id": hold["hold_id"], "token": hold["token"], "patient": {
                    "name": "Scale Patient", "email": f"p{uuid.uuid4().hex[:8]}@scale.test",
                    "timezone": ZONE}})  # fmt: skip
            lat[f"book_{temp}"].append(dt)

        # Warm-up on clinics that are not measured: the app process and its pooled backend
        # pay their own first-request costs here, not in the first measured clinic.
        for c in warmups:
            for _ in range(3):
                await flow(f"scale-{c:05d}", "warmup")
        # cold = this clinic's first requests since the app process (and its backends)
        # started; warm = the same flow again right after. Sequential: asyncpg's pool is LIFO,
        # so one backend serves them all and has seen only the warm-up clinics before.
        for c in picks:
            await flow(f"scale-{c:05d}", "cold")
            await flow(f"scale-{c:05d}", "warm")


async def _touch(url: str, clinics: int, reads: int, concurrency: int) -> dict[str, Any]:
    """Public catalog reads of random clinics, ``concurrency`` at a time."""
    async with aiohttp.ClientSession() as http:
        sem = asyncio.Semaphore(concurrency)

        times: list[float] = []

        async def read(c: int) -> None:
            async with sem:
                t0 = time.perf_counter()
                async with http.get(f"{url}/api/v1/clinics/scale-{c:05d}/public/catalog") as r:
                    await r.read()
                times.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(read(c) for c in random.choices(range(clinics), k=reads)))
        touch_s = time.perf_counter() - t0
    return {"touch_requests": reads, "touch_rps": round(reads / touch_s),
            "touch_p50_ms": round(percentile(times, 0.5) * 1000, 1),
            "touch_p95_ms": round(percentile(times, 0.95) * 1000, 1)}  # fmt: skip


TOUCH_CONCURRENCY = 4


async def _serve(args: argparse.Namespace, url: str) -> dict[str, Any]:
    """``--rounds`` app processes, each with fresh backends: warm-up, then cold and warm flows
    of ``--sample`` random clinics; the last one then serves ``--touch`` random clinics per
    connection and its backends' memory is read."""
    lat: dict[str, list[float]] = {f"{k}_{t}": [] for k in ("calendar", "slots", "hold", "book")
                                   for t in ("cold", "warm", "warmup")}  # fmt: skip
    out: dict[str, Any] = {}
    for r in range(args.rounds):
        chosen = random.sample(range(args.clinics), min(args.clinics, args.sample + WARMUPS))
        proc, app = _start_server(args.pool)
        try:
            await _latency(app, chosen[:WARMUPS], chosen[WARMUPS:], lat)
            # Full flows for sample + warm-up clinics, on (mostly) one backend.
            out.setdefault("backend_memory_after_flows", []).append(await _backend_memory(url))
            if r == args.rounds - 1:
                reads = args.touch * TOUCH_CONCURRENCY
                out |= await _touch(app, args.clinics, reads, TOUCH_CONCURRENCY)
                out["backend_memory"] = await _backend_memory(url)
        finally:
            proc.terminate()
            proc.wait(10)
    out["samples"] = len(lat["slots_cold"])
    for key, values in lat.items():
        if key.endswith("warmup"):
            continue
        out[f"{key}_p50_ms"] = round(percentile(values, 0.5) * 1000, 1)
        out[f"{key}_p95_ms"] = round(percentile(values, 0.95) * 1000, 1)
    return out


async def main(args: argparse.Namespace) -> None:
    url = os.environ["DATABASE_URL"]
    from carebook.migrations import migrate_all

    # With --reuse or --add this applies what the code has and the database lacks (a new
    # tenant migration over every existing clinic): its time is reported.
    first_migrate = await migrate_all(url)
    print(f"migrate at start: {first_migrate.migrations_applied} migrations over "
          f"{first_migrate.tenants_changed} of {first_migrate.tenants} clinics in "
          f"{first_migrate.seconds:.1f} s", flush=True)  # fmt: skip
    load_before = os.getloadavg()
    onboarded = args.clinics
    shared_s = None
    if args.reuse:  # the clinics of a previous run: only serving and memory are measured
        onboard_s, noop_s, one_s = float("nan"), float("nan"), float("nan")
    elif args.shared_migration:
        # Clinics as the previous version made them (their own copies of every function),
        # then the migrate that applies 0160_shared_functions to all of them.
        with _tenant_migrations(lambda current: tuple(m for m in current
                                                      if m.id < SHARED_MIGRATION)):  # fmt: skip
            onboard_s = await _onboard(args.clinics, args.concurrency)
        shared_s = (await migrate_all(url)).seconds
        noop_s, one_s = await _migrate_times(url)
    else:
        existing = await _existing(url) if args.add else (0, -1)
        onboarded = max(0, args.clinics - existing[0])
        onboard_s = await _onboard(onboarded, args.concurrency, first=existing[1] + 1)
        noop_s, one_s = await _migrate_times(url)
    catalog = await _catalog(url)
    retention_s = await _retention_pass()
    report: dict[str, Any] = {
        "clinics": args.clinics, "database": args.database,
        "first_migrate_s": round(first_migrate.seconds, 1),
        "first_migrate_clinics": first_migrate.tenants_changed,
        "onboarded": onboarded,
        "onboard_per_s": round(onboarded / onboard_s, 1) if onboarded else None,
        "onboard_concurrency": args.concurrency,
        "migrate_noop_ms": round(noop_s * 1000) if noop_s == noop_s else None,
        "migrate_one_s": round(one_s, 2), **catalog, "machine": machine(),
        "migrate_0160_s": shared_s and round(shared_s, 2),
        "retention_pass_ms": round(retention_s * 1000),
        "load_setup": [round(x, 1) for x in load_before + os.getloadavg()],
    }  # fmt: skip
    print(f"{args.clinics} clinics: onboarding {report['onboard_per_s']}/s; migrate no-op "
          f"{report['migrate_noop_ms']} ms, one migration {report['migrate_one_s']} s; "
          f"{catalog['relations']} relations, pg_class {catalog['pg_class_bytes'] / 2**20:.1f} "
          f"MiB, pg_attribute {catalog['pg_attribute_bytes'] / 2**20:.1f} MiB, database "
          f"{catalog['database_bytes'] / 2**30:.1f} GiB", flush=True)  # fmt: skip
    print(f"event retention pass: {retention_s * 1000:.0f} ms "
          f"({retention_s / args.clinics * 1000:.2f} ms per clinic)", flush=True)  # fmt: skip
    if shared_s is not None:
        print(
            f"0160_shared_functions on {args.clinics} clinics made by the previous version: "
            f"{shared_s:.1f} s ({shared_s / args.clinics * 1000:.0f} ms per clinic)"
        )
    if args.setup_only:
        print(json.dumps(report, default=str))
        return
    load_before = os.getloadavg()
    served = await _serve(args, url)
    memory = served["backend_memory"]
    report |= {"max_queries": os.environ.get("CAREBOOK_DB_MAX_QUERIES", "2000"),
               **served, "pool": args.pool, "rounds": args.rounds,
               "load_serve": [round(x, 1) for x in load_before + os.getloadavg()]}  # fmt: skip
    print(json.dumps(report, default=str))
    print(f"  backends {memory}; load {report['load_serve']}")
    print(f"  random catalog reads ({TOUCH_CONCURRENCY} at a time): {served['touch_rps']}/s, "
          f"p50/p95 {served['touch_p50_ms']}/{served['touch_p95_ms']} ms")  # fmt: skip
    for key in ("calendar", "slots", "hold", "book"):
        print(f"  {key:8} cold p50/p95 {served[f'{key}_cold_p50_ms']}/"
              f"{served[f'{key}_cold_p95_ms']} ms, warm {served[f'{key}_warm_p50_ms']}/"
              f"{served[f'{key}_warm_p95_ms']} ms")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clinics", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=20, help="clinics timed per round")
    parser.add_argument("--rounds", type=int, default=3, help="app processes (fresh backends)")
    parser.add_argument(
        "--touch", type=int, default=2000, help="random clinic reads per connection, then memory"
    )
    parser.add_argument("--pool", type=int, default=10, help="the app's pool size")
    parser.add_argument("--reuse", action="store_true", help="keep the previous run's clinics")
    parser.add_argument("--add", action="store_true",
                        help="keep the database and onboard up to --clinics")  # fmt: skip
    parser.add_argument("--database", default="carebook_bench_tenants", help="dropped first")
    parser.add_argument("--concurrency", type=int, default=12, help="onboardings at once")
    parser.add_argument(
        "--setup-only", action="store_true", help="onboard, time migrate, read the catalog"
    )
    parser.add_argument(
        "--shared-migration",
        action="store_true",
        help=f"onboard without {SHARED_MIGRATION}, then time the migrate that applies it",
    )
    args = parser.parse_args()
    prepare(args.database, keep=args.reuse or args.add)
    asyncio.run(main(args))
