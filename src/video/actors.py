"""Actors of the video domain (docs/lifecycle.md, docs/video.md).

Bodies are the use cases of ``video.rooms``: idempotent, so a message delivered twice makes
one room. The provider's side effects are keyed by the room name (derived from the
appointment id), which is the "done" record the lifecycle contract asks of outside effects.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import asyncpg

from carebook.jobs.actor import Job, job_actor, run_once
from carebook.tenancy import tenant_tx
from video import rooms


def _appointment(job: Job) -> UUID:
    return UUID(str(job.args["appointment_id"]))


async def _nothing(conn: asyncpg.Connection) -> None:
    return None


async def _once(job: Job, effect: Callable[[], Awaitable[Any]]) -> None:
    """Skip a job already handled; otherwise do the (idempotent) effect, then record the job
    in ``job_runs``. A crash in between repeats the effect, which finds it done."""
    async with tenant_tx(job.tenant) as conn:
        done = await conn.fetchval("SELECT 1 FROM job_runs WHERE job_id = $1", job.id)
    if done:
        return
    await effect()
    await run_once(job, _nothing)


@job_actor("video.create_room", queue="video")
async def create_room(job: Job) -> None:
    """``booked``: a room for a video calendar's appointment."""
    await _once(job, lambda: rooms.ensure_room(job.tenant, _appointment(job)))


@job_actor("video.activate_room", queue="video")
async def activate_room(job: Job) -> None:
    """``in_progress``: the call has started."""
    await _once(job, lambda: rooms.activate_room(job.tenant, _appointment(job)))


@job_actor("video.delete_room", queue="video")
async def delete_room(job: Job) -> None:
    """``cancelled`` / ``no_show``, and the scheduled expiry (event ``expired``)."""
    expired = job.args.get("event") == "expired"
    final = "expired" if expired else "deleted"
    await _once(job, lambda: rooms.delete_room(job.tenant, _appointment(job), final_status=final))


@job_actor("video.move_room", queue="video")
async def move_room(job: Job) -> None:
    """``rescheduled``: the room's window follows the new time."""
    await _once(job, lambda: rooms.move_room(job.tenant, _appointment(job)))
