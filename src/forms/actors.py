"""Actors of the forms domain (docs/lifecycle.md): instances generated on lifecycle events."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from carebook.jobs.actor import Job, job_actor, run_once
from forms import instances


async def _generate(job: Job, phase: str) -> None:
    appointment_id = UUID(job.args["appointment_id"])

    async def work(conn: asyncpg.Connection) -> None:
        await instances.generate(conn, appointment_id, phase)

    # Doubly idempotent: run_once per job, and one instance per (appointment, template).
    await run_once(job, work)


@job_actor("forms.generate_intake", queue="forms")
async def generate_intake(job: Job) -> None:
    """On ``booked``: the calendar's required intake forms become the appointment's."""
    await _generate(job, "intake")


@job_actor("forms.generate_post_appointment", queue="forms")
async def generate_post_appointment(job: Job) -> None:
    """On ``done``: the clinic's post-appointment forms, for the specialist to fill."""
    await _generate(job, "post_appointment")
