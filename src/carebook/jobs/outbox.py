"""Writing jobs in the caller's transaction (a clinic's tenant transaction).

The rows go to the platform tables ``public.job_outbox`` and ``public.scheduled_jobs`` through
the clinic-schema functions of ``carebook/sql/tenant/0030_jobs.sql``, so they commit or roll
back with the change that causes them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg


async def enqueue(conn: asyncpg.Connection, actor: str, args: dict[str, Any]) -> UUID:
    """One job for ``actor``, handed to Dramatiq after commit; returns the job id.

    ``args`` carries ids only (never patient data): it is stored and queued as it is.
    """
    job_id: UUID = await conn.fetchval(
        "SELECT enqueue_job($1, $2::jsonb)", actor, json.dumps(args, default=str)
    )
    return job_id


async def schedule(
    conn: asyncpg.Connection, key: str, actor: str, args: dict[str, Any], due_at: datetime
) -> None:
    """(Re)place the timed job ``key`` of this clinic, enqueued by the scheduler at ``due_at``.

    Keys of an appointment's timed work start with ``appointment:<id>:`` so that cancelling or
    rescheduling it drops them all (``unschedule``).
    """
    await conn.execute(
        "SELECT schedule_job($1, $2, $3::jsonb, $4)",
        key, actor, json.dumps(args, default=str), due_at,
    )  # fmt: skip


async def unschedule(conn: asyncpg.Connection, key_prefix: str) -> int:
    """Drop this clinic's pending timed jobs whose key starts with ``key_prefix``."""
    dropped: int = await conn.fetchval("SELECT unschedule_jobs($1)", key_prefix)
    return dropped
