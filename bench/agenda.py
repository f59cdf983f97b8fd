"""Staff agenda benchmark (issue 15): week view server time and booking → agenda latency.

    .venv/bin/python bench/agenda.py [--specialists 40] [--per-day 8] [--requests 200]

Uses DATABASE_URL/REDIS_URL when set, else embedded services under ``.carebook/bench``; the
data goes into its own database ``carebook_bench_agenda`` (dropped and re-created). One
clinic, N specialists working 08:00-18:00 every day, ``per-day`` booked appointments per
specialist and day for next week (40 × 7 × 8 = 2,240), each with its own patient. One uvicorn
process serves the app; an admin signs in through the form. Measures:

1. the week view (``/staff/agenda?view=week``, all specialists) and the day view, sequential
   requests on localhost: p50/p95/max of the response time (server time + loopback HTTP);
   also the agenda's own work in-process without HTTP (queries + audit row, the grid's
   template), so the load on a shared machine shows apart from the server's work;
2. booking → agenda: a patient books through the public API while a staff stream is open;
   time from the booking's 201 to the ``appointment.changed``/``slot.booked`` event on the
   staff stream, and to the refreshed agenda fragment that the page then fetches.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from datetime import date, datetime, timedelta
from datetime import time as wall
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from common import ROOT, machine, percentile, prepare

DB_NAME = "carebook_bench_agenda"
ZONE = "Europe/Berlin"
SLUG = "bench-agenda"
PASSWORD = "bench password 1"


async def seed(specialists: int, per_day: int) -> dict[str, Any]:
    from carebook.migrations import migrate_all
    from carebook.tenancy import tenant_tx
    from tenants import staff
    from tenants.service import find_tenant, onboard_clinic

    await migrate_all(os.environ["DATABASE_URL"])
    await onboard_clinic(
        slug=SLUG, name="Bench Agenda", timezone=ZONE, admin_email="admin@bench.test"
    )
    tenant = await find_tenant(SLUG)
    zone = ZoneInfo(ZONE)
    monday = datetime.now(zone).date() + timedelta(days=7 - datetime.now(zone).weekday())
    async with tenant_tx(tenant) as conn:
        await staff.set_password(conn, "admin@bench.test", PASSWORD)
        sids = [
            await conn.fetchval(
                "INSERT INTO specialists (name, email, timezone) VALUES ($1, $2, $3) RETURNING id",
                f"Dr Bench {i:02d}",
                f"s{i}@bench.test",
                ZONE,
            )
            for i in range(specialists)
        ]
        await conn.executemany(
            "INSERT INTO weekly_intervals (specialist_id, isodow, starts, ends) "
            "VALUES ($1, $2, '08:00', '18:00')",
            [(s, d) for s in sids for d in range(1, 8)],
        )
        service = await conn.fetchval(
            "INSERT INTO services (name, default_duration_minutes) "
            "VALUES ('Bench', 30) RETURNING id"
        )
        cal = await conn.fetchval(
            "INSERT INTO calendars (service_id, name, slug, price_minor, currency, "
            "duration_minutes, min_notice_minutes, horizon_days) "
            "VALUES ($1, 'Bench', 'bench', 5000, 'EUR', 30, 0, 60) RETURNING id",
            service,
        )
        await conn.executemany(
            "INSERT INTO calendar_specialists VALUES ($1, $2)", [(cal, s) for s in sids]
        )
        rows = []
        for s in sids:
            for d in range(7):
                for k in range(per_day):
                    start = datetime.combine(monday + timedelta(days=d), wall(8), zone) + timedelta(
                        minutes=60 * k
                    )
                    rows.append((s, start))
        patients = await conn.fetch(
            "INSERT INTO patients (email, name, timezone) SELECT 'p' || g || '@bench.test', "
            "'Patient ' || g, $2 FROM generate_series(1, $1) g RETURNING id",
            len(rows),
            ZONE,
        )
        statuses = ("booked", "upcoming", "confirmed", "done", "cancelled")
        await conn.executemany(
            """INSERT INTO appointments (calendar_id, specialist_id, patient_id, status,
                   starts_at, ends_at, blocking, price_minor, currency, duration_minutes)
               VALUES ($1, $2, $3, $4, $5::timestamptz, $5::timestamptz + interval '30 min',
                       tstzrange($5::timestamptz, $5::timestamptz + interval '30 min'),
                       5000, 'EUR', 30)""",
            [
                (cal, s, p["id"], statuses[i % len(statuses)], start)
                for i, ((s, start), p) in enumerate(zip(rows, patients, strict=True))
            ],
        )
        await conn.execute("ANALYZE")  # as autovacuum would after a bulk load
    return {"monday": monday, "calendar": cal, "appointments": len(rows), "tenant": tenant}


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "CAREBOOK_BASE_URL": f"http://127.0.0.1:{port}",
        "PYTHONPATH": str(ROOT / "src"),
    }
    log = open(ROOT / ".carebook" / "bench" / "agenda-server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "carebook.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("the app server did not start; see .carebook/bench/agenda-server.log")
        time.sleep(0.1)


def ms(values: list[float]) -> str:
    return (
        f"p50 {percentile(values, 0.5) * 1000:.1f} ms, p95 {percentile(values, 0.95) * 1000:.1f}"
        f" ms, max {max(values) * 1000:.1f} ms (n={len(values)})"
    )


async def sign_in(web: httpx.AsyncClient) -> None:
    page = await web.get(f"/c/{SLUG}/staff/login")
    token = re.search(r'name="form_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = await web.post(
        f"/c/{SLUG}/staff/login",
        data={"email": "admin@bench.test", "password": PASSWORD, "form_token": token},
    )
    assert r.status_code == 303, r.text[:300]


async def views(url: str, monday: date, requests: int) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as web:
        await sign_in(web)
        for label, query in (
            ("week view", f"view=week&day={monday}"),
            ("day view", f"view=day&day={monday}"),
        ):
            times = []
            for i in range(requests + 10):
                t0 = time.perf_counter()
                r = await web.get(f"/c/{SLUG}/staff/agenda?{query}")
                elapsed = time.perf_counter() - t0
                assert r.status_code == 200
                if i >= 10:  # warm-up
                    times.append(elapsed)
            size = len(r.content) // 1024
            print(f"{label:<10} ({size} KiB HTML): {ms(times)}")


async def in_process(tenant: Any, monday: date, requests: int) -> None:
    """The week view's server work without HTTP or the session check: the queries in one
    tenant transaction (with the audit row), then the grid's template (the fragment)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from carebook.tenancy import tenant_tx
    from tenants import audit
    from tenants.staff import StaffPrincipal
    from web.staff import agenda

    env = Environment(
        loader=FileSystemLoader(ROOT / "src" / "web" / "templates"),
        autoescape=select_autoescape(),
    )
    grid = env.get_template("staff/agenda_grid.html")
    async with tenant_tx(tenant) as conn:
        admin = await conn.fetchval("SELECT id FROM staff_users WHERE role = 'admin' LIMIT 1")
    me = StaffPrincipal(admin, "admin@bench.test", "Admin", "admin", "session")
    zone = ZoneInfo(ZONE)
    queries, rendering, total, cpu = [], [], [], []
    html = ""
    for _ in range(requests):
        c0, t0 = time.process_time(), time.perf_counter()
        async with tenant_tx(tenant) as conn:
            data = await agenda.load(conn, me, monday, 7, zone)
            await audit.record(conn, me, "view", "agenda", detail="week bench")
        t1 = time.perf_counter()
        html = grid.render(
            view="week", today=monday, tz=ZONE, me=me, tenant=tenant, **agenda.context(data)
        )
        t2 = time.perf_counter()
        queries.append(t1 - t0)
        rendering.append(t2 - t1)
        total.append(t2 - t0)
        cpu.append(time.process_time() - c0)
    print(f"week in-process ({data.count} appointments, {len(html) // 1024} KiB fragment):")
    print(f"  queries + audit row (one transaction), wall: {ms(queries)}")
    print(f"  cells + grid template, wall: {ms(rendering)}")
    print(f"  together, wall: {ms(total)}")
    print(f"  together, this process's CPU time (load-independent): {ms(cpu)}")


async def live(url: str, monday: date, calendar: Any, samples: int) -> None:
    """Book free 30-min slots (the half hours) and time event arrival and the refresh."""
    async with (
        httpx.AsyncClient(base_url=url, timeout=30) as web,
        httpx.AsyncClient(base_url=url, timeout=30) as api,
    ):
        await sign_in(web)
        got: asyncio.Queue[float] = asyncio.Queue()

        async def follow() -> None:
            async with web.stream("GET", f"/api/v1/clinics/{SLUG}/staff/events") as r:
                async for line in r.aiter_lines():
                    if line.startswith("event: ") and line[7:] in (
                        "appointment.changed",
                        "slot.booked",
                    ):
                        got.put_nowait(time.perf_counter())

        task = asyncio.create_task(follow())
        await asyncio.sleep(0.5)
        events, refreshed = [], []
        zone = ZoneInfo(ZONE)
        for i in range(samples):
            start = datetime.combine(monday + timedelta(days=i % 7), wall(8, 30), zone) + timedelta(
                hours=i // 7
            )
            r = await api.post(
                f"/api/v1/clinics/{SLUG}/public/holds",
                json={"calendar_id": str(calendar), "start": start.isoformat()},
            )
            assert r.status_code == 201, r.text
            held = r.json()
            r = await api.post(
                f"/api/v1/clinics/{SLUG}/public/bookings",
                json={
                    "hold_id": held["hold_id"],
                    "token": held["token"],
                    "patient": {
                        "name": "Live Patient",
                        "email": f"live{i}@bench.test",
                        "timezone": ZONE,
                    },
                },
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            assert r.status_code == 201, r.text
            booked_at = time.perf_counter()
            while True:  # the hold's event came before the booking; wait for the booking's
                arrived = await asyncio.wait_for(got.get(), 10)
                if arrived >= booked_at or got.empty():
                    break
            while not got.empty():
                got.get_nowait()
            events.append(max(0.0, arrived - booked_at))
            r = await web.get(f"/c/{SLUG}/staff/agenda?view=week&day={monday}&fragment=1")
            refreshed.append(time.perf_counter() - booked_at)
        task.cancel()
        print(f"booking 201 → event on the staff stream: {ms(events)}")
        print(f"booking 201 → refreshed week fragment received: {ms(refreshed)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--specialists", type=int, default=40)
    parser.add_argument("--per-day", type=int, default=8)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--live-samples", type=int, default=30)
    args = parser.parse_args()
    prepare(DB_NAME)
    seeded = asyncio.run(seed(args.specialists, args.per_day))
    print(f"machine: {machine()}")
    print(
        f"clinic: {args.specialists} specialists, {seeded['appointments']} appointments in "
        f"the week of {seeded['monday']}"
    )

    async def local() -> None:
        from carebook.app import start_pool, stop_pool

        await start_pool()
        try:
            await in_process(seeded["tenant"], seeded["monday"], args.requests)
        finally:
            await stop_pool()

    asyncio.run(local())
    proc, url = start_server()
    try:
        asyncio.run(views(url, seeded["monday"], args.requests))
        asyncio.run(live(url, seeded["monday"], seeded["calendar"], args.live_samples))
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
