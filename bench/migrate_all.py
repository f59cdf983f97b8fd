"""Benchmark: onboard 1,000 clinics, then time `carebook migrate` with one new migration.

Run: .venv/bin/python bench/migrate_all.py [clinics]
"""

from __future__ import annotations

import asyncio
import sys
import time

from common import machine, prepare

CLINICS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000


async def main(url: str) -> None:
    import asyncpg

    from carebook import migrations
    from carebook.migrations import TenantMigration, migrate_all
    from tenants.service import onboard_clinic

    await migrate_all(url)
    started = time.perf_counter()
    sem = asyncio.Semaphore(4)

    async def onboard(i: int) -> None:
        async with sem:
            await onboard_clinic(
                slug=f"bench-{i:05d}", name=f"Bench {i}", timezone="Europe/Berlin",
                admin_email=f"admin{i}@bench.test",
            )  # fmt: skip

    await asyncio.gather(*(onboard(i) for i in range(CLINICS)))
    onboard_s = time.perf_counter() - started

    noop = await migrate_all(url)
    extra = TenantMigration(
        "9000_bench_new_column",
        "bench",
        "ALTER TABLE specialists ADD COLUMN bench_note text; "
        "CREATE INDEX specialists_bench_note_idx ON specialists (bench_note);",
    )
    current = migrations.tenant_migrations()
    migrations.tenant_migrations = lambda: (*current, extra)  # type: ignore[assignment]
    report = await migrate_all(url)
    conn = await asyncpg.connect(url)
    try:
        applied = await conn.fetchval(
            "SELECT count(*) FROM tenant_schema_migrations WHERE migration_id = $1", extra.id
        )
        server = await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()
    assert applied == CLINICS, applied
    print(f"machine: {machine()}; PostgreSQL {server}")
    print(f"onboard {CLINICS} clinics (4 at a time): {onboard_s:.1f} s "
          f"({onboard_s / CLINICS * 1000:.1f} ms per clinic)")  # fmt: skip
    print(f"migrate, nothing to do:        {noop.seconds * 1000:.0f} ms")
    print(f"migrate, one new migration:    {report.seconds:.2f} s across {report.tenants_changed} "
          f"schemas ({report.seconds / CLINICS * 1000:.1f} ms per schema)")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main(prepare("carebook_bench_migrate")))
