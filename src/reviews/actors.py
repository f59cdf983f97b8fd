"""Actors of the reviews domain (docs/lifecycle.md).

Messages themselves belong to the notifications domain (issue 12): until its helpers land,
these record that the invitation / alert is due (``review_invitations``,
``review_alerts.notified_at``), which is what its message builders will read.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from carebook.jobs.actor import Job, job_actor, run_once
from reviews import service


@job_actor("reviews.invite", queue="reviews")
async def invite(job: Job) -> None:
    """On ``done``: invite the patient to review the appointment."""
    appointment_id = UUID(job.args["appointment_id"])

    async def work(conn: asyncpg.Connection) -> None:
        await service.record_invitation(conn, appointment_id)

    await run_once(job, work)


@job_actor("reviews.alert_admins", queue="reviews")
async def alert_admins(job: Job) -> None:
    """A rating below the clinic's threshold: tell the clinic admins."""
    alert_id = UUID(job.args["alert_id"])

    async def work(conn: asyncpg.Connection) -> None:
        await service.mark_alert_notified(conn, alert_id)

    await run_once(job, work)
