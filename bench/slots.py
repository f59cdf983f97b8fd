"""Benchmark of the availability engine (issue 4): 31 days x 10 specialists on one calendar.

Run: ``.venv/bin/python bench/slots.py [--levels 1000,100000,1000000] [--runs 200]``.
Uses DATABASE_URL's server if set, else the embedded PostgreSQL (data in .carebook/bench);
creates its own database ``carebook_bench`` afresh, migrates it and onboards one clinic.

Data: one Berlin clinic with 400 specialists, each working Mon-Fri 09:00-17:00 (buffer 0);
10 of them are on the benchmarked calendar (30 min). Appointments are spread evenly over the
specialists and over a year of working slots (a fixed permutation, so blocking appointments
never overlap): 85 % booked/confirmed/done, 10 % cancelled, 5 % expired holds. At 1M that is
2,500 appointments per specialist, ~60 % of their working slots. Levels are cumulative.
Timed side by side: the engine's SQL (``count(*)`` of ``available_slots()``, round trip on a
local socket), the slots service (``slots_document()``: the response document PostgreSQL
builds, what the endpoint sends) and the HTTP endpoint in process (ASGI, no network); plus
CPU per request (Python + the PostgreSQL backends, from /proc), which the machine's load
moves far less than the wall-clock percentiles. With the slots cache on (kept days,
calendars/slots_cache.py), through HTTP: kept (one window again), cold (different windows,
the cache empty at first), days (those windows again) and ev (again, a booking's event on
one day of each window just before its request).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import re
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from common import machine_info, percentile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

SPECIALISTS = 400
ON_CALENDAR = 10
SLOTS_PER_YEAR = 52 * 5 * 16  # weeks x weekdays x half-hour slots between 09:00 and 17:00
YEAR_START = date(2026, 12, 7)  # a Monday
NOW = datetime(2027, 5, 31, 22, 0, tzinfo=UTC)
FIRST_QUERY_DAY = date(2027, 6, 1)

INSERT_APPOINTMENTS = """
WITH n AS (
    SELECT i, i % $3 AS s, i / $3 AS j FROM generate_series($1::bigint, $2::bigint - 1) i
), pos AS (  -- 7919 is prime and coprime with 4160: j -> p is a permutation of the year
    SELECT i, s, (j * 7919) % 4160 AS p FROM n
), t AS (
    SELECT i, s, ((($5::date + ((p / 80) * 7 + (p % 80) / 16)::int) + time '09:00'
                  + make_interval(mins => 30 * (p % 16)::int)) AT TIME ZONE 'Europe/Berlin') AS st
    FROM pos
)
INSERT INTO appointments (calendar_id, specialist_id, status, starts_at, ends_at, blocking)
SELECT $4, sp.ids[t.s + 1],
       CASE WHEN t.i % 20 = 0 THEN 'expired' WHEN t.i % 10 = 5 THEN 'cancelled'
            WHEN t.i % 3 = 0 THEN 'confirmed' WHEN t.i % 3 = 1 THEN 'done' ELSE 'booked' END,
       t.st, t.st + interval '30 minutes', tstzrange(t.st, t.st + interval '30 minutes')
FROM t, (SELECT array_agg(id ORDER BY name) AS ids FROM specialists) sp
"""


async def setup(db_url: str) -> Any:
    from carebook.migrations import migrate_all
    from tenants.service import find_tenant, onboard_clinic

    await migrate_all(db_url)
    await onboard_clinic(
        slug="bench", name="Bench Clinic", timezone="Europe/Berlin", admin_email="admin@bench.test"
    )
    tenant = await find_tenant("bench")
    from carebook.tenancy import tenant_tx

    async with tenant_tx(tenant) as conn:
        await conn.execute(
            """INSERT INTO specialists (name, email, timezone)
               SELECT 'Specialist ' || lpad(g::text, 4, '0'), 's' || g || '@bench.test',
                      'Europe/Berlin' FROM generate_series(1, $1) g""",
            SPECIALISTS,
        )
        await conn.execute(
            """INSERT INTO weekly_intervals (specialist_id, isodow, starts, ends)
               SELECT s.id, d, '09:00', '17:00' FROM specialists s, generate_series(1, 5) d"""
        )
        service = await conn.fetchval(
            "INSERT INTO services (name, default_duration_minutes) VALUES ('Bench', 30) "
            "RETURNING id"
        )
        calendar = await conn.fetchval(
            """INSERT INTO calendars (service_id, name, slug, price_minor, currency,
                   duration_minutes, min_notice_minutes, horizon_days)
               VALUES ($1, 'Bench', 'bench', 8000, 'EUR', 30, 120, 400) RETURNING id""",
            service,
        )
        await conn.execute(
            """INSERT INTO calendar_specialists (calendar_id, specialist_id)
               SELECT $1, id FROM specialists ORDER BY name LIMIT $2""",
            calendar,
            ON_CALENDAR,
        )
    return tenant, calendar


def query_days(k: int) -> tuple[date, date]:
    first = FIRST_QUERY_DAY + timedelta(days=(k * 7) % 120)
    return first, first + timedelta(days=30)


def backend_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) PostgreSQL backends ``pids`` have used so far (local
    server: /proc). Unlike wall-clock percentiles, this hardly moves with the machine's load."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def database_backends(conn: Any) -> list[int]:
    return [
        r[0]
        for r in await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend'"
        )
    ]


async def get_slots(http: Any, calendar: Any, first: date, last: date) -> float:
    """One request of the slots endpoint through the app in process; its time in ms."""
    started = time.perf_counter()
    r = await http.get(
        f"/api/v1/clinics/bench/public/calendars/{calendar}/slots",
        params={"start": first.isoformat(), "end": last.isoformat()},
    )
    assert r.status_code == 200, r.text
    return (time.perf_counter() - started) * 1000


async def time_level(tenant: Any, calendar: Any, runs: int, http: Any) -> dict[str, float]:
    """sql: the engine alone; svc: the service's document (what the endpoint sends); http:
    the endpoint in process. cpu: Python + PostgreSQL CPU per request, means over the runs."""
    from calendars.slots import first_instant, slots_document
    from carebook.tenancy import tenant_tx
    from carebook.zones import valid_zone

    zone = valid_zone("Europe/Berlin")
    sql_ms: list[float] = []
    service_ms: list[float] = []
    http_ms: list[float] = []
    count = 0
    result: dict[str, float] = {}
    async with tenant_tx(tenant) as conn:
        own = [await conn.fetchval("SELECT pg_backend_pid()")]
        cpu = 0.0
        for k in range(runs + 10):
            if k == 10:  # warm-up excluded
                cpu = backend_cpu(own)
            first, last = query_days(k)
            started = time.perf_counter()
            count = await conn.fetchval(
                "SELECT count(*) FROM available_slots($1, $2, $3, $4)",
                calendar,
                first_instant(first, zone),
                first_instant(last + timedelta(days=1), zone),
                NOW,
            )
            if k >= 10:
                sql_ms.append((time.perf_counter() - started) * 1000)
        result["sql_cpu"] = (backend_cpu(own) - cpu) / runs * 1000
        backends = await database_backends(conn)
    size = 0
    for k in range(runs + 10):
        if k == 10:
            cpu, py = backend_cpu(backends), time.process_time()
        first, last = query_days(k)
        started = time.perf_counter()
        size = len(await slots_document(tenant, calendar, first, last, None, None, NOW))
        if k >= 10:
            service_ms.append((time.perf_counter() - started) * 1000)
    result["svc_cpu"] = (backend_cpu(backends) - cpu + time.process_time() - py) / runs * 1000
    if http is not None:
        http_runs = runs // 2
        # Each request a different window, as for svc: every one built (the cache is off).
        for k in range(http_runs + 5):
            if k == 5:
                cpu, py = backend_cpu(backends), time.process_time()
            elapsed = await get_slots(http, calendar, *query_days(k))
            if k >= 5:
                http_ms.append(elapsed)
        cpu_s = backend_cpu(backends) - cpu + time.process_time() - py
        result["http_cpu"] = cpu_s / http_runs * 1000
        # A document kept by the cache (calendars/slots_cache.py): the same window again, as
        # the open pages refetch it after a live event; the first request builds it.
        os.environ["CAREBOOK_SLOTS_CACHE_MB"] = "32"
        kept_ms: list[float] = []
        for k in range(runs // 2 + 1):
            elapsed = await get_slots(http, calendar, *query_days(0))
            if k >= 1:
                kept_ms.append(elapsed)
        result |= {"kept_p50": statistics.median(kept_ms), "kept_p95": percentile(kept_ms, 0.95)}
        # Kept days: each request a different window, as for http, with the cache on. cold:
        # the cache empty at the start, every request counted (the builds of days not seen
        # yet too); days: the same windows again once each was asked (kept for 30 s).
        os.environ["CAREBOOK_SLOTS_CACHE_MB"] = "32.5"  # a new, empty cache
        cold_ms = [await get_slots(http, calendar, *query_days(k)) for k in range(http_runs)]
        days_ms = [await get_slots(http, calendar, *query_days(k)) for k in range(http_runs)]
        result |= {
            "cold_p50": statistics.median(cold_ms),
            "cold_p95": percentile(cold_ms, 0.95),
            "days_p50": statistics.median(days_ms),
            "days_p95": percentile(days_ms, 0.95),
        }
        # The same, with a booking's event on a random day of each window just before the
        # request (a booking between any two page loads): that day is built again.
        rng = random.Random(7)
        async with tenant_tx(tenant) as conn:
            staff = await conn.fetchval(
                "SELECT array_agg(specialist_id) FROM calendar_specialists WHERE calendar_id = $1",
                calendar,
            )
        event_ms: list[float] = []
        for k in range(http_runs):
            first, last = query_days(k)
            day = first + timedelta(days=rng.randrange((last - first).days + 1))
            start = first_instant(day, zone) + timedelta(hours=9, minutes=30 * rng.randrange(16))
            async with tenant_tx(tenant) as conn:
                await conn.execute(
                    "SELECT publish_slot_event('slot.booked', $1, $2, $3, $4, 0)",
                    calendar, rng.choice(staff), start, start + timedelta(minutes=30),
                )  # fmt: skip
            event_ms.append(await get_slots(http, calendar, first, last))
        os.environ["CAREBOOK_SLOTS_CACHE_MB"] = "0"
        result |= {"ev_p50": statistics.median(event_ms), "ev_p95": percentile(event_ms, 0.95)}
    result |= {
        "rows": float(count),
        "bytes": float(size),
        "sql_p50": statistics.median(sql_ms),
        "sql_p95": percentile(sql_ms, 0.95),
        "svc_p50": statistics.median(service_ms),
        "svc_p95": percentile(service_ms, 0.95),
    }
    if http_ms:
        result |= {"http_p50": statistics.median(http_ms), "http_p95": percentile(http_ms, 0.95)}
    return result


async def engine_query(conn: Any) -> str:
    """engine_slots()'s query as the database holds it (the one the search_path resolves),
    its parameters turned into $n, so EXPLAIN shows what the function runs. Its arguments:
    calendar, from, to, now, specialist, blocking mode, look-back days."""
    src, names = await conn.fetchrow(
        "SELECT prosrc, proargnames FROM pg_proc WHERE oid = 'engine_slots'::regproc"
    )
    body = src.split("RETURN QUERY", 1)[1].rsplit("END", 1)[0].strip().rstrip(";")
    casts = ["uuid", "timestamptz", "timestamptz", "timestamptz", "uuid", "text", "integer"]
    for i, (name, cast) in enumerate(zip(names, casts, strict=False), start=1):
        body = re.sub(rf"\b{name}\b", f"${i}::{cast}", body)
    return str(body)


async def explain(tenant: Any, calendar: Any) -> str:
    from calendars.slots import first_instant
    from carebook.tenancy import tenant_tx
    from carebook.zones import valid_zone

    zone = valid_zone("Europe/Berlin")
    first, last = query_days(0)
    args = [
        calendar,
        first_instant(first, zone),
        first_instant(last + timedelta(days=1), zone),
        NOW,
        None,
        "apply",
        7,
    ]
    async with tenant_tx(tenant) as conn:
        query = await engine_query(conn)
        for _ in range(3):
            await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {query}", *args)
        rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {query}", *args)
        # The function scan above hides how appointments are read: show that query too.
        inner = await conn.fetch(
            """EXPLAIN (ANALYZE, BUFFERS)
               SELECT * FROM blocking_ranges(
                   $1::uuid[], tstzrange($2, $3), $4)""",
            await conn.fetchval(
                "SELECT array_agg(specialist_id) FROM calendar_specialists WHERE calendar_id = $1",
                calendar,
            ),
            args[1],
            args[2],
            NOW,
        )
    return (
        "\n".join(r[0] for r in rows) + "\n\nblocking_ranges():\n" + "\n".join(r[0] for r in inner)
    )


async def main(levels: list[int], runs: int, with_http: bool) -> None:
    import asyncpg

    from carebook.app import start_pool, stop_pool
    from carebook.tenancy import tenant_tx

    db_url = os.environ["DATABASE_URL"]
    await start_pool()
    tenant, calendar = await setup(db_url)
    http = None
    if with_http:
        import httpx

        from carebook.app import create_app

        transport = httpx.ASGITransport(app=create_app(), client=("127.0.0.1", 50001))
        http = httpx.AsyncClient(transport=transport, base_url="http://bench")
    conn = await asyncpg.connect(db_url)
    info = machine_info() | {"postgres": await conn.fetchval("SHOW server_version")}
    await conn.close()
    print("machine:", info, flush=True)
    names = ["sql p50", "sql p95", "svc p50", "svc p95", "http p50", "http p95",
             "kept p50", "kept p95", "cold p50", "cold p95", "days p50",
             "days p95", "ev p50", "ev p95", "sql cpu",
             "svc cpu", "http cpu", "insert s",
             "load"]  # fmt: skip
    header = f"{'appointments':>12} {'slots':>6} {'KiB':>5} " + " ".join(f"{n:>8}" for n in names)
    lines = [header]
    print(header, flush=True)
    done = 0
    explain_text = ""
    for level in levels:
        started = time.perf_counter()
        async with tenant_tx(tenant) as conn:
            await conn.execute(INSERT_APPOINTMENTS, done, level, SPECIALISTS, calendar, YEAR_START)
            await conn.execute("ANALYZE appointments")
        inserted = time.perf_counter() - started
        done = level
        r = await time_level(tenant, calendar, runs, http)
        keys = ["sql_p50", "sql_p95", "svc_p50", "svc_p95", "http_p50", "http_p95",
                "kept_p50", "kept_p95", "cold_p50", "cold_p95", "days_p50",
                "days_p95", "ev_p50", "ev_p95", "sql_cpu",
                "svc_cpu", "http_cpu"]  # fmt: skip
        figures = [r.get(key, 0.0) for key in keys]
        line = (
            f"{level:>12,} {int(r['rows']):>6} {r['bytes'] / 1024:>5.0f} "
            + " ".join(f"{x:>8.2f}" for x in figures)
            + f" {inserted:>8.1f} {os.getloadavg()[0]:>8.1f}"
        )
        lines.append(line)
        print(line, flush=True)
        if level == 100_000:
            explain_text = await explain(tenant, calendar)
    if http is not None:
        await http.aclose()
    await stop_pool()
    print("\n" + "\n".join(lines))
    print(
        "(times in ms; slots = (start, specialist) rows returned for 31 days; KiB = the"
        " response document; svc and http: a different window each request, built by the"
        " engine (the slots cache off); kept: the same window again through HTTP, served by"
        " the slots cache; cold: a different window each request through HTTP, the cache on"
        " and empty at first (days kept from earlier windows, the rest built); days: the same"
        " windows again (every day kept); ev: the same again with a booking's event on a"
        " random day of each window just before the request (that day built again);"
        " cpu = CPU ms per request, Python + PostgreSQL (sql: PostgreSQL"
        " only); load = 1-minute load average after the level)"
    )
    if explain_text:
        print("\nEXPLAIN (ANALYZE, BUFFERS) of the engine's query at 100,000 appointments:\n")
        print(explain_text)


def prepare_database() -> None:
    from carebook.runtime import create_database, ensure_services, with_database

    if os.environ.get("DATABASE_URL"):
        server = os.environ["DATABASE_URL"]
    else:
        server, _ = ensure_services(ROOT / ".carebook" / "bench")
    db_url = with_database(server, "carebook_bench")
    asyncio.run(create_database(db_url, drop_first=True))
    os.environ["DATABASE_URL"] = db_url


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", default="1000,100000,1000000")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--no-http", action="store_true")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # One access line per request on stderr would bury the table (its cost is ~20 µs).
    logging.getLogger("carebook.access").setLevel(logging.WARNING)
    os.environ.setdefault("CAREBOOK_DATA_DIR", str(ROOT / ".carebook" / "bench"))
    # The columns sql/svc/http time documents the engine builds; only "kept" uses the cache.
    os.environ["CAREBOOK_SLOTS_CACHE_MB"] = "0"
    prepare_database()
    asyncio.run(main([int(x) for x in args.levels.split(",")], args.runs, not args.no_http))
