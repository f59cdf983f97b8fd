"""The Dramatiq broker (Redis). Import this before any module that declares actors."""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

broker = RedisBroker(  # type: ignore[no-untyped-call]
    url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    namespace=os.environ.get("CAREBOOK_QUEUE_NAMESPACE", "carebook"),
    middleware=[AgeLimit(), TimeLimit(), ShutdownNotifications(), Callbacks(), Pipelines(),
                Retries(min_backoff=1000, max_backoff=300_000, max_retries=10)],
)  # fmt: skip
dramatiq.set_broker(broker)
