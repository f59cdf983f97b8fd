"""The Dramatiq broker (Redis). Import this before any module that declares actors."""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import (
    AgeLimit,
    AsyncIO,
    Callbacks,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

from carebook.jobs.deadletters import DeadLetters

broker = RedisBroker(  # type: ignore[no-untyped-call]
    url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    namespace=os.environ.get("CAREBOOK_QUEUE_NAMESPACE", "carebook"),
    # A dead worker's unacknowledged messages go back to the queue after this long (tests
    # that kill workers shorten it; maintenance runs on a share of commands).
    heartbeat_timeout=int(os.environ.get("CAREBOOK_WORKER_HEARTBEAT_MS", "60000")),
    maintenance_chance=int(os.environ.get("CAREBOOK_QUEUE_MAINTENANCE_CHANCE", "1000")),
    # AsyncIO runs coroutine actors on a loop of its own. "after" hooks run in reverse list
    # order: DeadLetters, listed before Retries, sees a message once Retries has failed it.
    middleware=[AgeLimit(), TimeLimit(), ShutdownNotifications(), Callbacks(), Pipelines(),
                DeadLetters(), Retries(min_backoff=1000, max_backoff=300_000, max_retries=10),
                AsyncIO()],
)  # fmt: skip
dramatiq.set_broker(broker)
