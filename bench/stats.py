"""Statistics benchmark (issue 13): a clinic with 40 specialists and a year of appointments.

Run: ``.venv/bin/python bench/stats.py [--appointments 110000] [--runs 200]``. Uses
DATABASE_URL's server if set, else the embedded PostgreSQL; creates its own database
``carebook_bench_stats``, migrates it and onboards one clinic.

Data: 40 specialists (Mon-Fri 09:00-17:00, Europe/Berlin) on 10 calendars of 30 min (4 each);
a year of weekdays has 40 x 260 x 16 = 166,400 slots, of which ``--appointments`` are booked
through a permutation (no overlaps), bulk-loaded and then counted by ``stats_rebuild()`` (live
transitions keep the rollups by trigger): 70 % done, 10 % cancelled, 5 % no-show, 15 %
booked/confirmed; 30 % of the done ones are reviewed (1-5 stars).

Timed, per scope (clinic, one specialist, one calendar) and period (month, quarter, year):
the statistics service in a tenant transaction, what the endpoint runs (BEGIN, search_path,
offered-time coverage check, the rollup query, COMMIT). The first call of each scope fills
the offered time from the availability engine and is reported apart ("cold").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from datetime import date, timedelta
from typing import Any

from common import machine_info, percentile, prepare

SPECIALISTS, CALENDARS = 40, 10
YEAR_START = date(2025, 12, 1)  # a Monday; the year ends before "now" (2026-11-30)
SLOTS = SPECIALISTS * 52 * 5 * 16

INSERT = """
WITH n AS (
    SELECT i, i % 40 AS s, i / 40 AS j FROM generate_series(0, $1::bigint - 1) i
), pos AS (  -- 7919 is prime and coprime with 4160: j -> p is a permutation of the year
    SELECT i, s, (j * 7919) % 4160 AS p FROM n
), t AS (
    SELECT i, s, ((($2::date + ((p / 80) * 7 + (p % 80) / 16)::int) + time '09:00'
                  + make_interval(mins => 30 * (p % 16)::int)) AT TIME ZONE 'Europe/Berlin') AS st
    FROM pos
)
INSERT INTO appointments (calendar_id, specialist_id, status, starts_at, ends_at, blocking,
                          price_minor, currency, duration_minutes)
SELECT cs.calendar_id, sp.ids[t.s + 1],
       CASE WHEN t.i / 40 % 20 < 14 THEN 'done' WHEN t.i / 40 % 20 < 16 THEN 'cancelled'
            WHEN t.i / 40 % 20 = 16 THEN 'no_show' WHEN t.i / 40 % 20 = 17 THEN 'confirmed'
            ELSE 'booked' END,
       t.st, t.st + interval '30 minutes', tstzrange(t.st, t.st + interval '30 minutes'),
       5000, 'EUR', 30
FROM t
CROSS JOIN (SELECT array_agg(id ORDER BY name) AS ids FROM specialists) sp
JOIN LATERAL (SELECT calendar_id FROM calendar_specialists
              WHERE specialist_id = sp.ids[t.s + 1] LIMIT 1) cs ON true
"""


async def setup(appointments: int) -> tuple[Any, dict[str, Any]]:
    from carebook.migrations import migrate_all
    from carebook.tenancy import tenant_tx
    from tenants.service import find_tenant, onboard_clinic

    await migrate_all(os.environ["DATABASE_URL"])
    await onboard_clinic(slug="bench-stats", name="Bench stats", timezone="Europe/Berlin",
                         admin_email="admin@bench.test")  # fmt: skip
    tenant = await find_tenant("bench-stats")
    async with tenant_tx(tenant) as conn:
        await conn.execute(
            """INSERT INTO specialists (name, email, timezone)
               SELECT format('Dr %s', lpad(i::text, 2, '0')), format('dr%s@bench.test', i),
                      'Europe/Berlin' FROM generate_series(1, $1) i""",
            SPECIALISTS,
        )
        await conn.execute(
            """INSERT INTO weekly_intervals (specialist_id, isodow, starts, ends)
               SELECT s.id, d, '09:00', '17:00' FROM specialists s, generate_series(1, 5) d"""
        )
        service = await conn.fetchval(
            "INSERT INTO services (name, default_duration_minutes) VALUES ('S', 30) RETURNING id"
        )
        await conn.execute(
            """INSERT INTO calendars (service_id, name, slug, price_minor, currency,
                   duration_minutes, min_notice_minutes, horizon_days)
               SELECT $1, format('Calendar %s', i), format('cal-%s', i), 5000, 'EUR', 30, 120, 90
               FROM generate_series(1, $2) i""",
            service, CALENDARS,
        )  # fmt: skip
        await conn.execute(
            """INSERT INTO calendar_specialists (calendar_id, specialist_id)
               SELECT c.id, s.id
               FROM (SELECT id, row_number() OVER (ORDER BY slug) - 1 AS k FROM calendars) c
               JOIN (SELECT id, row_number() OVER (ORDER BY name) - 1 AS k FROM specialists) s
                 ON s.k / 4 = c.k"""
        )
    started = time.perf_counter()
    async with tenant_tx(tenant) as conn:
        # Bulk load without the per-row triggers (a year of history at once), then the
        # rollups are recounted in one pass; the triggers' own cost is what transitions pay.
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(INSERT, appointments, YEAR_START)
        await conn.execute(
            """INSERT INTO reviews (appointment_id, specialist_id, calendar_id, rating)
               SELECT id, specialist_id, calendar_id, 1 + (hashtext(id::text) & 1023) % 5
               FROM appointments WHERE status = 'done' AND hashtext(id::text) % 10 < 3"""
        )
        await conn.execute("SET LOCAL session_replication_role = origin")
        await conn.execute("SELECT stats_rebuild()")
    load_s = time.perf_counter() - started
    async with tenant_tx(tenant) as conn:
        await conn.execute("ANALYZE")
        ids = {
            "specialist": await conn.fetchval("SELECT id FROM specialists ORDER BY name LIMIT 1"),
            "calendar": await conn.fetchval("SELECT id FROM calendars ORDER BY slug LIMIT 1"),
            "appointments": await conn.fetchval("SELECT count(*) FROM appointments"),
            "reviews": await conn.fetchval("SELECT count(*) FROM reviews"),
            "rollup_rows": await conn.fetchval("SELECT count(*) FROM stats_daily"),
            "load_s": round(load_s, 1),
        }
    return tenant, ids


PERIODS = {
    "month": (date(2026, 6, 1), date(2026, 6, 30)),
    "quarter": (date(2026, 4, 1), date(2026, 6, 30)),
    "year": (YEAR_START, YEAR_START + timedelta(days=364)),
}


async def run(tenant: Any, ids: dict[str, Any], runs: int) -> list[dict[str, Any]]:
    from carebook.tenancy import tenant_tx
    from stats.service import statistics as stats

    scopes = {"clinic": (None, None), "specialist": (ids["specialist"], None),
              "calendar": (None, ids["calendar"])}  # fmt: skip
    out = []
    year = PERIODS["year"]
    for scope, (specialist, calendar) in scopes.items():
        started = time.perf_counter()
        async with tenant_tx(tenant) as conn:
            await stats(conn, tenant.timezone, year[0], year[1], specialist, calendar)
        cold_ms = (time.perf_counter() - started) * 1000
        for period, (start, end) in PERIODS.items():
            timings = []
            for k in range(runs + 10):
                started = time.perf_counter()
                async with tenant_tx(tenant) as conn:
                    result = await stats(conn, tenant.timezone, start, end, specialist, calendar)
                if k >= 10:
                    timings.append((time.perf_counter() - started) * 1000)
            out.append({
                "scope": scope, "period": period, "cold_fill_ms": round(cold_ms, 1),
                "p50": round(statistics.median(timings), 2),
                "p95": round(percentile(timings, 0.95), 2),
                "max": round(max(timings), 2),
                "booked": result.total.booked, "utilisation": result.total.utilisation,
            })  # fmt: skip
            print(out[-1], flush=True)
    return out


async def main(appointments: int, runs: int) -> None:
    from carebook.app import start_pool, stop_pool

    await start_pool()
    try:
        tenant, ids = await setup(appointments)
        print("machine:", machine_info(), flush=True)
        print("data:", {k: v for k, v in ids.items() if k not in ("specialist", "calendar")},
              flush=True)  # fmt: skip
        await run(tenant, ids, runs)
    finally:
        await stop_pool()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--appointments", type=int, default=110_000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    assert args.appointments <= SLOTS
    prepare("carebook_bench_stats")
    asyncio.run(main(args.appointments, args.runs))
