"""Actors of bench/lifecycle.py (imported by its workers and its app process, never by tests).

Both actors do the same, nothing but note when they started, each on its own queue served by
its own worker process, so the relay's path and Dramatiq's floor are measured alike.
"""

from __future__ import annotations

import os
import time
from typing import Any

import dramatiq
import redis

import carebook.broker  # noqa: F401  (the project's Redis broker, before the actors)

_redis = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))


@dramatiq.actor(actor_name="bench.probe", queue_name="bench_relay")
async def probe(schema: str, job_id: str, args: dict[str, Any]) -> None:
    """A lifecycle job as the relay sends it: note (appointment, start time)."""
    _redis.hset("bench:start:relay", args["appointment_id"], time.time())


@dramatiq.actor(actor_name="bench.floor", queue_name="bench_floor")
async def floor(sent_at: float) -> None:
    """Dramatiq's own enqueue → start latency on the same broker and an identical worker."""
    _redis.rpush("bench:lat:floor", time.time() - sent_at)
