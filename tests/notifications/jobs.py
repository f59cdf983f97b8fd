"""Running a clinic's waiting jobs of one actor in the test process, as the worker would."""

from __future__ import annotations

import json

from carebook.tenancy import Tenant, tenant_tx


async def run_jobs(tenant: Tenant, actor_name: str, deliveries: int = 1) -> int:
    """Take the clinic's waiting ``actor_name`` jobs from the outbox and run each through the
    real actor ``deliveries`` times (2: a duplicated message); how many jobs there were."""
    import carebook.actors  # noqa: F401 - declares every actor
    from carebook.broker import broker

    # The actor's coroutine itself (Dramatiq's wrapper would hand it to the worker's loop).
    run = broker.get_actor(actor_name).fn.__wrapped__
    async with tenant_tx(tenant) as conn:
        jobs = await conn.fetch(
            "DELETE FROM public.job_outbox WHERE schema_name = $1 AND actor = $2 "
            "RETURNING job_id, args",
            tenant.schema,
            actor_name,
        )
    for job in jobs:
        for _ in range(deliveries):
            await run(tenant.schema, str(job["job_id"]), json.loads(job["args"]))
    return len(jobs)
