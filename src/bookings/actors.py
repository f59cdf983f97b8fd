"""Actors of the bookings domain (docs/lifecycle.md)."""

from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID

import asyncpg

from bookings import outcomes
from carebook.jobs.actor import Job, job_actor, run_once

log = logging.getLogger(__name__)


@job_actor("bookings.record_patient", queue="lifecycle")
async def record_patient(job: Job) -> None:
    """On ``booked``: the patient record is created or matched by e-mail in the booking's own
    transaction (``book_hold()``), so nothing is left to do; the hook stays for effects on
    the patient record that may come (e.g. a first-visit flag)."""


@job_actor("bookings.mark_upcoming", queue="lifecycle")
async def mark_upcoming(job: Job) -> None:
    """Timed: ``booked`` → ``upcoming`` at the clinic's reminder lead before the start.

    The scheduler enqueues this at the time the booking (or the last reschedule) scheduled;
    an appointment moved or cancelled since is left alone (its job was replaced or dropped in
    that same transaction, and the start is checked here again besides).
    """
    appointment_id = UUID(job.args["appointment_id"])
    expected = datetime.fromisoformat(job.args["starts_at"])

    async def work(conn: asyncpg.Connection) -> None:
        row = await conn.fetchrow(
            "SELECT status, starts_at FROM appointments WHERE id = $1", appointment_id
        )
        if row is None or row["status"] != "booked" or row["starts_at"] != expected:
            return
        try:
            async with conn.transaction():  # a savepoint: an outcome undoes only the move
                await conn.fetchrow(
                    "SELECT * FROM transition_appointment($1, 'upcoming', NULL, 'system', NULL, "
                    "NULL)",
                    appointment_id,
                )
        except asyncpg.RaiseError as exc:
            log.info("appointment %s not moved to upcoming: %s", appointment_id,
                     outcomes.as_problem(exc))  # fmt: skip

    await run_once(job, work)
