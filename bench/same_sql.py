"""The limit of the booking design (issue 18): hold + book as bare SQL under pgbench.

The same two clinic-schema functions the app calls, ``hold_slot()`` and ``book_hold()``, with
the same arguments (each client its own specialist, 15-minute starts 08:00-17:45 Berlin
time, a fresh Idempotency-Key and patient per booking), as two transactions per booking like
the two HTTP requests — without HTTP, Redis or Python. pgbench's rate of this script is the
ceiling for the app on this server; ``pg_stat_user_functions`` says how much of each call is
spent inside PostgreSQL (planning and commit excluded).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

# The bench clinic (bench/booking.py ``_setup``): every specialist works 08:00-18:00 Berlin
# time every day, 15-minute slots, no minimum notice, bookable HORIZON_DAYS ahead.
SLOTS_PER_DAY = 40
HORIZON_DAYS = 730  # the most a calendar allows (calendars.horizon_days CHECK)
# Each phase books its own days (offsets from the clinic's today), so no phase meets another's
# bookings and every day lies inside the horizon. A client can book SLOTS_PER_DAY per day of
# its range: 12,600 here, 630 bookings/s per client for 20 s (the fastest run so far: 405/s
# for 8 clients together, 277/s for 1). The HTTP phase and the race book from day 1 and 2.
MANY_CLIENTS_DAYS = range(100, 415)
ONE_CLIENT_DAYS = range(415, HORIZON_DAYS)

# The start of a client's booking number k (0, 1, …) in a range of days from day0: day
# day0 + k / 40 of the clinic's calendar, 08:00 + (k % 40) * 15 min there. One expression for
# the pgbench script and for check_starts(). The clinic's today, not current_date: the
# session's TimeZone must not move the day (the horizon is counted from now).
START = (
    "(((now() AT TIME ZONE 'Europe/Berlin')::date + {day0} + {k} / 40)"
    " + make_interval(mins => 480 + ({k} % 40) * 15)) AT TIME ZONE 'Europe/Berlin'"
)
# Variables: cal (calendar id), sids ('{…}' specialist ids), day0 (the run's first day),
# k (the client's bookings so far, -D k=0). Each run of the script is one booking.
SCRIPT = r"""
SELECT id AS hold_id FROM public.hold_slot_in({schema},
    :cal::uuid,
    {start},
    (:sids::uuid[])[:client_id::int + 1], NULL, sha256(:client_id::text::bytea), 10,
    'Europe/Berlin') \gset
SELECT replayed FROM public.book_hold_in({schema},
    gen_random_uuid()::text, sha256(:k::text::bytea), :hold_id::uuid,
    sha256(:client_id::text::bytea), 'p' || gen_random_uuid() || '@bench.test',
    'Bench Patient', NULL, 'Europe/Berlin', NULL, NULL, sha256(:hold_id::text::bytea),
    sha256(:k::text::bytea) || sha256(:hold_id::text::bytea), 'patient', NULL);
\set k :k + 1
""".replace("{start}", START.format(day0=":day0::int", k=":k::int"))


async def check_starts(url: str, setup: dict[str, Any], clients: int, days: range) -> int:
    """Every start the script can ask ``clients`` clients for in ``days`` (all of the range's
    bookings) must be a free slot of that client's specialist by ``available_slots()`` now;
    SystemExit naming the first that is not. Returns how many starts were checked."""
    import asyncpg

    if days.start < 1 or days.stop > HORIZON_DAYS or days.step != 1:
        raise SystemExit(f"same-SQL days {days} are not inside days 1-{HORIZON_DAYS - 1}")
    query = f"""
        WITH wanted AS (SELECT {START.format(day0="$1::int", k="k")} AS t
                        FROM generate_series(0, $2::int - 1) AS k),
             slots AS (SELECT slot_start FROM available_slots(
                           $3::uuid, (SELECT min(t) FROM wanted),
                           (SELECT max(t) FROM wanted) + interval '1 microsecond', now(),
                           $4::uuid))
        SELECT count(*) AS n, min(t) FILTER (WHERE t NOT IN (SELECT * FROM slots)) AS bad
        FROM wanted"""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'SET search_path TO "{setup["schema"]}", public')
        checked = 0
        for sid in setup["specialists"][:clients]:
            row = await conn.fetchrow(query, days.start, len(days) * SLOTS_PER_DAY,
                                      setup["throughput"], sid)  # fmt: skip
            if row["bad"] is not None:
                raise SystemExit(f"same-SQL script: {row['bad']} is no free slot of {sid}")
            checked += row["n"]
    finally:
        await conn.close()
    return checked


@dataclass
class SameSql:
    tps: float  # bookings (hold + book) per second
    hold_ms: float  # mean time inside PostgreSQL per hold_slot() call
    book_ms: float  # … per book_hold() call
    engine_ms: float  # … per engine call made by place_hold()
    engine_calls_per_hold: float


async def _function_times(url: str) -> dict[str, tuple[int, float]]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT funcname, sum(calls)::bigint AS calls, sum(total_time) AS ms "
            "FROM pg_stat_user_functions GROUP BY funcname"
        )
    finally:
        await conn.close()
    return {r["funcname"]: (r["calls"], r["ms"]) for r in rows}


async def _reset_stats(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        db = await conn.fetchval("SELECT current_database()")
        # plpgsql functions are timed in every new session of this database.
        await conn.execute(f"ALTER DATABASE \"{db}\" SET track_functions = 'pl'")
        await conn.execute("SELECT pg_stat_reset()")
    finally:
        await conn.close()


def _literal(schema: str) -> str:
    """The clinic's schema as the entry points' first argument (a SQL string literal)."""
    return "'" + schema.replace("'", "''") + "'"


def function_ms(stats: dict[str, tuple[int, float]], name: str) -> tuple[int, float]:
    """(calls, mean ms per call) of one function, (0, 0.0) when it was never called."""
    calls, ms = stats.get(name, (0, 0.0))
    return calls, (ms / calls if calls else 0.0)


def run(binary: str, url: str, setup: dict[str, Any], clients: int, seconds: float,
        days: range) -> SameSql:  # fmt: skip
    """pgbench the script for ``seconds`` with ``clients`` (specialists[:clients]), each
    booking its specialist's slots of ``days`` in order (checked first: check_starts()).

    With several clients the times inside PostgreSQL include waiting (the clinic's event
    lock until commit, the CPU); with one client they are the work itself."""
    asyncio.run(check_starts(url, setup, clients, days))
    asyncio.run(_reset_stats(url))
    sids = "{" + ",".join(str(s) for s in setup["specialists"][:clients]) + "}"
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "hold_book.sql"
        script.write_text(SCRIPT.replace("{schema}", _literal(setup["schema"])))
        out = subprocess.run(
            [binary, "-n", "-M", "prepared", "-f", str(script), "-c", str(clients), "-j", "2",
             "-T", str(int(seconds)), "-D", f"cal={setup['throughput']}", "-D", f"sids={sids}",
             "-D", f"day0={days.start}", "-D", "k=0", url],
            capture_output=True, text=True,
        )  # fmt: skip
    if out.returncode != 0:
        done = re.search(r"actually processed: ([0-9]+)", out.stdout)
        if done and int(done.group(1)) >= clients * len(days) * SLOTS_PER_DAY:
            raise SystemExit(f"same-SQL pgbench booked all of days {days}: give it more days")
        raise SystemExit(f"same-SQL pgbench failed:\n{out.stdout}\n{out.stderr}")
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out.stdout)
    if not match:
        raise SystemExit(f"cannot read pgbench output:\n{out.stdout}")
    stats = asyncio.run(_function_times(url))
    holds, hold_ms = function_ms(stats, "hold_slot")
    _, book_ms = function_ms(stats, "book_hold")
    engine_calls = sum(stats.get(n, (0, 0.0))[0] for n in ENGINE_FUNCTIONS)
    engine_total = sum(stats.get(n, (0, 0.0))[1] for n in ENGINE_FUNCTIONS)
    return SameSql(float(match.group(1)), hold_ms, book_ms,
                   engine_total / engine_calls if engine_calls else 0.0,
                   engine_calls / holds if holds else 0.0)  # fmt: skip


# The engine's PL/pgSQL body: available_slots() before issue 18; engine_slots() after (called
# by slot_at() in point mode; available_slots() became an inlined SQL wrapper).
ENGINE_FUNCTIONS = ("available_slots", "engine_slots")


HOLD_SQL = """SELECT id FROM public.hold_slot_in({schema}, $1, $2, $3, NULL, sha256('0'::bytea),
                                                  10, 'Europe/Berlin')"""
BOOK_SQL = """SELECT replayed FROM public.book_hold_in({schema},
    gen_random_uuid()::text, sha256($2::text::bytea), $1::uuid, sha256('0'::bytea),
    'p' || gen_random_uuid() || '@bench.test', 'Bench Patient', NULL, 'Europe/Berlin', NULL,
    NULL, sha256($1::uuid::text::bytea),
    sha256($2::text::bytea) || sha256($1::uuid::text::bytea), 'patient', NULL)"""


def _backend_cpu_ms(pid: int) -> float:
    """CPU time (user + system) a PostgreSQL backend has used so far (same machine, /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


@dataclass
class BackendCpu:
    booking_ms: float  # backend CPU per hold_slot() + book_hold(), each its own transaction
    hold_ms: float  # … per hold_slot() alone
    engine_ms: float  # … per engine check of one instant, as place_hold() makes it


async def backend_cpu(url: str, setup: dict[str, Any], n: int, day0: int) -> BackendCpu:
    """CPU the server process spends per booking on one connection, sequentially.

    CPU time, not wall time: it does not grow when other processes load the machine (the
    shared machine's load average moves wall-clock figures by 2x). Commit's WAL flush wait
    is not CPU and is not counted; its CPU is."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        schema = f'"{setup["schema"]}"'
        literal = _literal(setup["schema"])
        hold, book = HOLD_SQL.replace("{schema}", literal), BOOK_SQL.replace("{schema}", literal)
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        cal, sid = setup["throughput"], setup["specialists"][0]
        day = await conn.fetchval("SELECT (now() AT TIME ZONE 'Europe/Berlin')::date")
        zone = ZoneInfo("Europe/Berlin")

        def start(k: int) -> datetime:
            local = datetime.combine(day + timedelta(days=day0 + k // 40), time(8), zone)
            return local + timedelta(minutes=15 * (k % 40))

        async def one(k: int, with_booking: bool) -> None:
            hold_id = await conn.fetchval(hold, cal, start(k), sid)
            if with_booking:
                await conn.fetchval(book, hold_id, str(k))

        for k in range(20):  # plans, caches
            await one(k, True)
        t0 = _backend_cpu_ms(pid)
        for k in range(20, 20 + n):
            await one(k, True)
        t1 = _backend_cpu_ms(pid)
        for k in range(20 + n, 20 + 2 * n):
            await one(k, False)
        t2 = _backend_cpu_ms(pid)
        # As place_hold() calls it, on the clinic's search_path.
        await conn.execute(f"SET search_path TO {schema}, public")
        engine = (
            "SELECT count(*) FROM slot_at($1::uuid, $2::timestamptz, now(), $3::uuid)"
            if await conn.fetchval("SELECT to_regproc('slot_at') IS NOT NULL")
            else "SELECT count(*) FROM available_slots($1::uuid, $2::timestamptz, "
            "$2::timestamptz + interval '1 microsecond', now(), $3::uuid, false)"
        )
        probe = start(20 + 2 * n)  # a free slot
        for _ in range(20):
            await conn.fetchval(engine, cal, probe, sid)
        t3 = _backend_cpu_ms(pid)
        for _ in range(n):
            await conn.fetchval(engine, cal, probe, sid)
        t4 = _backend_cpu_ms(pid)
    finally:
        await conn.close()
    return BackendCpu((t1 - t0) / n, (t2 - t1) / n, (t4 - t3) / n)
