"""Declaring idempotent actors: ``job_actor`` and ``run_once``.

A job message carries ``schema`` (the clinic), ``job_id`` and ``args`` (ids only). Actors are
coroutines run by Dramatiq's AsyncIO middleware on its own event loop; the first job on a
loop opens a small connection pool for that loop (``carebook.tenancy.register_loop_pool``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
import dramatiq

import carebook.broker  # noqa: F401 - the broker must exist before actors are declared
from carebook.tenancy import Tenant, _pool, register_loop_pool, tenant_by_schema, tenant_tx

log = logging.getLogger(__name__)

WORKER_POOL_SIZE = 4
_pool_lock: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}


@dataclass(frozen=True)
class Job:
    """One delivery of a job to its actor."""

    id: UUID
    actor: str
    tenant: Tenant
    args: dict[str, Any]


class ClinicGone(Exception):
    """The job's clinic no longer exists; the job has nothing left to do."""


async def _ensure_loop_pool() -> None:
    if _pool() is not None:
        return
    loop = asyncio.get_running_loop()
    lock = _pool_lock.setdefault(loop, asyncio.Lock())
    async with lock:
        if _pool() is None:
            import os

            from carebook.settings import behind_pgbouncer, get_settings

            dsn = os.environ.get("DATABASE_URL") or get_settings().database_url
            pool = await asyncpg.create_pool(
                dsn, min_size=1, max_size=WORKER_POOL_SIZE,
                # PgBouncer in transaction mode cannot keep named prepared statements.
                statement_cache_size=0 if behind_pgbouncer() else 100,
            )  # fmt: skip
            register_loop_pool(pool)


def job_actor(
    name: str,
    *,
    queue: str = "default",
    max_retries: int = 8,
    min_backoff: int = 1000,
    max_backoff: int = 300_000,
    time_limit: int = 120_000,
) -> Callable[[Callable[[Job], Awaitable[None]]], dramatiq.Actor[Any, Any]]:
    """Declare ``fn(job)`` as the Dramatiq actor ``name`` (the name jobs are written with)."""

    def declare(fn: Callable[[Job], Awaitable[None]]) -> dramatiq.Actor[Any, Any]:
        async def run(schema: str, job_id: str, args: dict[str, Any]) -> None:
            await _ensure_loop_pool()
            tenant = await tenant_by_schema(schema)
            if tenant is None:
                log.warning("job %s (%s): clinic schema %s is gone", job_id, name, schema)
                return
            await fn(Job(UUID(job_id), name, tenant, args))

        run.__name__ = run.__qualname__ = fn.__name__
        run.__doc__ = fn.__doc__
        return dramatiq.actor(  # type: ignore[call-overload,no-any-return]
            run,
            actor_name=name,
            queue_name=queue,
            max_retries=max_retries,
            min_backoff=min_backoff,
            max_backoff=max_backoff,
            time_limit=time_limit,
        )

    return declare


async def run_once(job: Job, work: Callable[[asyncpg.Connection], Awaitable[Any]]) -> bool:
    """Run ``work(conn)`` in a tenant transaction that also records ``job.id`` as done.

    A second delivery of the same job finds the record (or waits for the first delivery's
    transaction and then finds it) and does nothing. Returns whether ``work`` ran.
    """
    async with tenant_tx(job.tenant) as conn:
        claimed = await conn.fetchval(
            "INSERT INTO job_runs (job_id, actor) VALUES ($1, $2) "
            "ON CONFLICT (job_id) DO NOTHING RETURNING true",
            job.id, job.actor,
        )  # fmt: skip
        if not claimed:
            log.info("job %s (%s) already done; duplicate delivery ignored", job.id, job.actor)
            return False
        await work(conn)
    return True


def noop_actor(name: str, queue: str) -> dramatiq.Actor[Any, Any]:
    """A named hook whose body a later issue fills in (docs/lifecycle.md)."""

    async def hook(job: Job) -> None:
        log.debug("job %s (%s): nothing to do yet", job.id, name)

    hook.__name__ = name.replace(".", "_")
    return job_actor(name, queue=queue)(hook)
