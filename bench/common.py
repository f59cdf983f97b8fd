"""Shared set-up for benchmarks: a server (DATABASE_URL or embedded) and a fresh database."""

from __future__ import annotations

import asyncio
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
# Benchmarks measure speed, not rate limits (app servers they start inherit this).
for _limit in ("HOLD", "BOOKING", "LOGIN", "READ", "STREAM"):
    os.environ.setdefault(f"CAREBOOK_{_limit}_RATE", "1000000000")


def prepare(database: str, *, keep: bool = False) -> str:
    """Point DATABASE_URL/REDIS_URL at a fresh ``database`` (or the existing one, ``keep``)."""
    os.environ.setdefault("CAREBOOK_DATA_DIR", str(ROOT / ".carebook" / "bench"))
    from carebook.runtime import create_database, ensure_postgres, ensure_redis, with_database
    from carebook.settings import get_settings

    data_dir = get_settings().data_dir
    server = ensure_postgres(data_dir)
    url = with_database(server, database)
    asyncio.run(create_database(url, drop_first=not keep))
    os.environ["DATABASE_URL"] = url
    ensure_redis(data_dir)
    return url


def machine_info() -> dict[str, Any]:
    """The machine a benchmark ran on, for its printed figures and JSON reports."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name"):
                cpu = line.split(":", 1)[1].strip()
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": round(mem),
            "kernel": platform.release(), "python": platform.python_version()}  # fmt: skip


def machine() -> str:
    m = machine_info()
    return f"{m['cores']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM, Python {m['python']}"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile, ``q`` in [0, 1] (1 is the maximum)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
