"""A test actor whose every delivery and every effect leave rows behind (tests of the job
machinery). Importable by worker processes: ``dramatiq carebook.actors tests.carebook.job_probe``.
"""

from __future__ import annotations

import asyncio
from uuid import UUID

import asyncpg

from carebook.jobs.actor import Job, job_actor, run_once
from carebook.tenancy import Tenant, tenant_tx

PROBE = "tests.probe"

PROBE_TABLES = """
CREATE TABLE IF NOT EXISTS probe_deliveries (job_id uuid NOT NULL, at timestamptz DEFAULT now());
CREATE TABLE IF NOT EXISTS probe_effects (job_id uuid NOT NULL, label text NOT NULL);
CREATE TABLE IF NOT EXISTS probe_failing (label text PRIMARY KEY);
"""


async def create_probe_tables(tenant: Tenant) -> None:
    async with tenant_tx(tenant) as conn:
        await conn.execute(PROBE_TABLES)


@job_actor(PROBE, queue="tests", max_retries=1, min_backoff=20, max_backoff=50)
async def probe(job: Job) -> None:
    """Records the delivery (committed at once), then fails while its label is listed in
    probe_failing, else records its effect once (on its first delivery after ``sleep``
    seconds inside the effect's transaction, for tests that kill the worker there)."""
    label = str(job.args.get("label", ""))
    async with tenant_tx(job.tenant) as conn:
        await conn.execute("INSERT INTO probe_deliveries (job_id) VALUES ($1)", job.id)
        first = await conn.fetchval(
            "SELECT count(*) = 1 FROM probe_deliveries WHERE job_id = $1", job.id
        )
        failing = await conn.fetchval("SELECT 1 FROM probe_failing WHERE label = $1", label)
    if failing:
        raise RuntimeError(f"probe {label} told to fail")

    async def work(conn: asyncpg.Connection) -> None:
        await conn.execute(
            "INSERT INTO probe_effects (job_id, label) VALUES ($1, $2)", job.id, label
        )
        if first:  # only the first delivery dawdles (a redelivery finishes at once)
            await asyncio.sleep(float(job.args.get("sleep", 0)))

    await run_once(job, work)


async def counts(tenant: Tenant, job_id: UUID | None = None) -> tuple[int, int]:
    """(deliveries, effects), of one job or of all."""
    async with tenant_tx(tenant) as conn:
        deliveries = await conn.fetchval(
            "SELECT count(*) FROM probe_deliveries WHERE $1::uuid IS NULL OR job_id = $1", job_id
        )
        effects = await conn.fetchval(
            "SELECT count(*) FROM probe_effects WHERE $1::uuid IS NULL OR job_id = $1", job_id
        )
    return int(deliveries), int(effects)
