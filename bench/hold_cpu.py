"""PostgreSQL CPU per hold + booking (issue 18), robust to a shared machine's load.

Run: ``.venv/bin/python bench/hold_cpu.py [N]``. One connection calls the clinic-schema
functions the app calls — ``hold_slot()`` then ``book_hold()``, each its own transaction —
N times on bench/booking.py's clinic (database ``carebook_bench_holdcpu``), then N holds
alone, then N engine checks of one instant as ``place_hold()`` makes them. It reports the
server process's CPU time per call (from /proc: the server must run on this machine), which,
unlike wall-clock time, does not grow when other processes load the cores.
"""

from __future__ import annotations

import asyncio
import sys

import booking
import same_sql
from common import machine, prepare


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    url = prepare("carebook_bench_holdcpu")
    setup = asyncio.run(booking._setup())
    r = asyncio.run(same_sql.backend_cpu(url, setup, n, day0=10))
    print(f"machine: {machine()}")
    print(f"PostgreSQL backend CPU, 1 connection, {n} calls each: hold_slot + book_hold "
          f"{r.booking_ms:.2f} ms per booking; hold_slot alone {r.hold_ms:.2f} ms; "
          f"book_hold {r.booking_ms - r.hold_ms:.2f} ms; engine check of one instant "
          f"{r.engine_ms:.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
