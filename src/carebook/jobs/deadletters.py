"""Dead letters: jobs whose retries are spent, recorded for platform admins to retry.

``DeadLetters`` is a Dramatiq middleware placed after ``Retries``: when a message has just
failed for good it writes ``public.dead_letters`` on the AsyncIO middleware's event loop.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from uuid import UUID

import asyncpg
from dramatiq import Broker, Middleware

from carebook.tenancy import platform_tx

log = logging.getLogger(__name__)
MAX_ERROR_CHARS = 4000


async def record(
    job_id: UUID | str,
    schema: str,
    actor: str,
    args: dict[str, Any],
    error: str,
    attempts: int,
    conn: asyncpg.Connection | None = None,
) -> None:
    sql = (
        "INSERT INTO public.dead_letters (job_id, schema_name, actor, args, error, attempts) "
        "VALUES ($1, $2, $3, $4::jsonb, $5, $6)"
    )
    values = (UUID(str(job_id)), schema, actor, json.dumps(args, default=str),
              error[:MAX_ERROR_CHARS], attempts)  # fmt: skip
    if conn is not None:
        await conn.execute(sql, *values)
        await _count(conn)
        return
    async with platform_tx() as tx:
        await tx.execute(sql, *values)
        await _count(tx)


async def _count(conn: asyncpg.Connection) -> None:
    """Refresh the dead-letter gauge (open letters) after a change."""
    from carebook import metrics

    metrics.DEAD_LETTERS.set(
        await conn.fetchval("SELECT count(*) FROM public.dead_letters WHERE retried_at IS NULL")
    )


class DeadLetters(Middleware):
    """Records messages that ``Retries`` has just failed for good (and closes the actors'
    connection pool when the worker stops)."""

    def before_worker_shutdown(self, broker: Broker, worker: Any) -> None:
        from dramatiq.asyncio import get_event_loop_thread

        thread = get_event_loop_thread()
        if thread is not None:
            try:
                thread.run_coroutine(_close_loop_pool())
            except Exception:
                log.warning("could not close the actors' connection pool", exc_info=True)

    def after_process_message(
        self,
        broker: Broker,
        message: Any,  # a MessageProxy
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None or not message.failed:
            return
        kwargs = message.kwargs or {}
        if "schema" not in kwargs or "job_id" not in kwargs:
            return  # not a job of ours (e.g. the ping actor)
        from dramatiq.asyncio import get_event_loop_thread

        coro = record(
            kwargs["job_id"], kwargs["schema"], message.actor_name, kwargs.get("args") or {},
            f"{type(exception).__name__}: {exception}", int(message.options.get("retries", 0)),
        )  # fmt: skip
        thread = get_event_loop_thread()
        try:
            if thread is None:
                raise RuntimeError("no AsyncIO event loop thread")
            thread.run_coroutine(_with_pool(coro))
            log.error("job %s (%s) failed for good: dead letter recorded",
                      kwargs["job_id"], message.actor_name)  # fmt: skip
        except Exception:
            coro.close()
            log.exception("job %s (%s) failed for good and its dead letter could not be written",
                          kwargs["job_id"], message.actor_name)  # fmt: skip


async def _with_pool(coro: Any) -> None:
    from carebook.jobs.actor import _ensure_loop_pool

    await _ensure_loop_pool()
    await coro


async def list_dead_letters(
    include_retried: bool = False, limit: int = 200
) -> list[dict[str, Any]]:
    """The newest dead letters (open ones only unless ``include_retried``)."""
    async with platform_tx() as conn:
        rows = await conn.fetch(
            """SELECT d.id, d.job_id, t.slug AS clinic, d.schema_name, d.actor, d.args, d.error,
                      d.attempts, d.failed_at, d.retried_at
               FROM public.dead_letters d
               LEFT JOIN public.tenants t ON t.schema_name = d.schema_name
               WHERE $1 OR d.retried_at IS NULL
               ORDER BY d.failed_at DESC, d.id DESC LIMIT $2""",
            include_retried, limit,
        )  # fmt: skip
    return [{**dict(r), "args": json.loads(r["args"])} for r in rows]


async def retry_dead_letter(dead_letter_id: int) -> UUID | None:
    """Put the job back in the outbox under its own id (its effect still happens once);
    returns the job id, or None when there is no such open dead letter."""
    async with platform_tx() as conn:
        row = await conn.fetchrow(
            """UPDATE public.dead_letters SET retried_at = now()
               WHERE id = $1 AND retried_at IS NULL
               RETURNING job_id, schema_name, actor, args""",
            dead_letter_id,
        )
        if row is None:
            return None
        await conn.execute(
            "INSERT INTO public.job_outbox (job_id, schema_name, actor, args) "
            "VALUES ($1, $2, $3, $4)",
            row["job_id"], row["schema_name"], row["actor"], row["args"],
        )  # fmt: skip
        await _count(conn)
    job_id: UUID = row["job_id"]
    return job_id


async def _close_loop_pool() -> None:
    from carebook.tenancy import forget_loop_pool

    pool = forget_loop_pool()
    if pool is not None:
        await pool.close()
