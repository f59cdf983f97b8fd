"""Prometheus metrics of the process (scraped at ``/metrics``).

Every metric object lives here, in the kernel, so any domain can update one without
importing another domain. Multi-process: when ``PROMETHEUS_MULTIPROC_DIR`` is set before
this module is first imported (``carebook run --workers N`` sets it), each process writes its
values to files there and ``/metrics`` aggregates every live process (gauges are summed over
live processes, or take the most recent value where one process sets a global figure).

For the job relay and dead letters (issue 11), set from the relay / worker code::

    from carebook import metrics
    metrics.JOB_RELAY_LAG.observe(seconds_from_outbox_insert_to_enqueue)
    metrics.JOBS_RELAYED.inc(batch_size)
    metrics.JOB_RELAY_BATCH.observe(batch_size)
    metrics.DEAD_LETTERS.set(count_of_rows_in_the_dead_letter_table)  # after each change
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
if MULTIPROCESS:  # workers and schedulers inherit the variable too: never fail on the folder
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUEST_LATENCY = Histogram(
    "carebook_http_request_duration_seconds",
    "Time to the response's first byte, by route template (never the raw path).",
    ["method", "route", "status"],
    buckets=_LATENCY_BUCKETS,
)
POOL_CONNECTIONS = Gauge(
    "carebook_db_pool_connections",
    "Database pool connections by state (size, idle, in_use, max), summed over processes.",
    ["state"],
    multiprocess_mode="livesum",
)
SSE_SUBSCRIBERS = Gauge(
    "carebook_sse_subscribers",
    "Open live-update streams.",
    multiprocess_mode="livesum",
)
LISTEN_CONNECTED = Gauge(
    "carebook_listen_connected",
    "Processes whose events listener connection is up.",
    multiprocess_mode="livesum",
)
OUTBOX_LAG = Histogram(
    "carebook_events_outbox_lag_seconds",
    "From an event's commit into the events outbox to its fan-out by the events hub.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0),
)
DB_CONNECTIONS_RECYCLED = Counter(
    "carebook_db_connections_recycled",
    "Pooled connections closed after serving CAREBOOK_DB_MAX_CLINICS clinics (bounds the "
    "backend's per-schema catalog caches).",
)
DB_ACQUIRE_TIMEOUTS = Counter(
    "carebook_db_acquire_timeouts",
    "Requests answered 503 busy_retry because no pooled connection came free within "
    "CAREBOOK_DB_ACQUIRE_TIMEOUT.",
)
SLOTS_CACHE = Counter(
    "carebook_slots_cache",
    "Slots documents by how they were served: hit (every day kept, still current), shared "
    "(the missing days built once for concurrent requests), miss (some days built).",
    ["result"],
)
SLOTS_CACHE_DAYS = Counter(
    "carebook_slots_cache_days",
    "Days of slots documents by where they came from: kept (still current) or built.",
    ["result"],
)
HOLDS_SWEPT = Counter("carebook_holds_swept", "Expired holds released by the sweeper.")
# Set by the lead's job relay and worker (issue 11): see the module docstring.
JOB_RELAY_LAG = Histogram(
    "carebook_job_relay_lag_seconds",
    "From a job's insert into the job outbox to its enqueue on the broker.",
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0),
)
JOBS_RELAYED = Counter("carebook_jobs_relayed", "Jobs moved from the job outbox to the broker.")
JOB_RELAY_BATCH = Histogram(
    "carebook_job_relay_batch_jobs",
    "Jobs claimed and sent per relay round (one claim transaction, one Redis round trip).",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200),
)
DEAD_LETTERS = Gauge(
    "carebook_dead_letters",
    "Jobs in the dead-letter list (a global figure: the latest value set by any process).",
    multiprocess_mode="mostrecent",
)


def sample_process_gauges() -> None:
    """Refresh this process's gauges (pool, streams, LISTEN) from their owners."""
    from carebook.events.hub import HubClosed, get_hub
    from carebook.pools import app_pools

    pools = list(app_pools())
    if pools:
        size = sum(p.get_size() for p in pools)
        idle = sum(p.get_idle_size() for p in pools)
        POOL_CONNECTIONS.labels("size").set(size)
        POOL_CONNECTIONS.labels("idle").set(idle)
        POOL_CONNECTIONS.labels("in_use").set(size - idle)
        POOL_CONNECTIONS.labels("max").set(sum(p.get_max_size() for p in pools))
    try:
        stats = get_hub().stats()
    except HubClosed:
        stats = {"subscribers": 0, "listening": False}
    SSE_SUBSCRIBERS.set(stats["subscribers"])
    LISTEN_CONNECTED.set(1 if stats["listening"] else 0)


def exposition() -> tuple[bytes, str]:
    """The text exposition of every process's metrics (this process's alone when single)."""
    sample_process_gauges()
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def process_exited() -> None:
    """Drop this process's live gauges from the multi-process totals (at shutdown)."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
