"""Actors of the reviews domain (docs/lifecycle.md).

The reviews domain decides that a message is due and records it (``review_invitations``,
``review_alerts.notified_at``); the notifications domain writes and delivers it, once per
(appointment, event, recipient, channel) through its message log, so a duplicated or
retried job sends nothing twice.
"""

from __future__ import annotations

from uuid import UUID

from carebook.jobs.actor import Job, job_actor
from carebook.tenancy import tenant_tx
from notifications import review_messages
from notifications.review_messages import LowRating, StaffRecipient
from reviews import service
from tenants import staff


@job_actor("reviews.invite", queue="reviews")
async def invite(job: Job) -> None:
    """On ``done``: invite the patient to review the appointment (an e-mail with a link to
    the manage page's review form)."""
    appointment_id = UUID(job.args["appointment_id"])
    async with tenant_tx(job.tenant) as conn:
        await service.record_invitation(conn, appointment_id)
    await review_messages.send_review_invitation(job.tenant, appointment_id, job.id)


@job_actor("reviews.alert_admins", queue="reviews")
async def alert_admins(job: Job) -> None:
    """A rating below the clinic's threshold: e-mail every active clinic admin at once."""
    alert_id = UUID(job.args["alert_id"])
    async with tenant_tx(job.tenant) as conn:
        alert = await service.alert_for_message(conn, alert_id)
        admins = await staff.active_members(conn, "admin")
    if alert is None:
        return
    low = LowRating(alert_id, alert["appointment_id"], alert["rating"], alert["threshold"],
                    alert["comment"])  # fmt: skip
    recipients = [StaffRecipient(a.email, a.name) for a in admins]
    await review_messages.send_low_rating_alert(job.tenant, low, recipients, job.id)
    async with tenant_tx(job.tenant) as conn:
        await service.mark_alert_notified(conn, alert_id)
