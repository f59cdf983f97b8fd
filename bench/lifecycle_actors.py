"""Actors of bench/lifecycle.py (imported by its worker and its app process, never by tests)."""

from __future__ import annotations

import os
import time

import dramatiq
import redis

from carebook.jobs.actor import Job, job_actor
from carebook.tenancy import tenant_tx

_redis = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))


@job_actor("bench.probe", queue="bench")
async def probe(job: Job) -> None:
    """Commit → actor start: the transition's history row is stamped in its transaction."""
    started = time.time()
    async with tenant_tx(job.tenant) as conn:
        at = await conn.fetchval(
            "SELECT at FROM appointment_history WHERE id = $1", int(job.args["history_id"])
        )
    _redis.rpush("bench:lat:relay", started - at.timestamp())


@dramatiq.actor(actor_name="bench.floor", queue_name="bench")
async def floor(sent_at: float) -> None:
    """Dramatiq's own enqueue → start latency on the same broker and worker."""
    _redis.rpush("bench:lat:floor", time.time() - sent_at)
