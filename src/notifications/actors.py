"""Actors of the notifications domain (docs/lifecycle.md, docs/notifications.md).

Each lifecycle hook's body is a plain coroutine of ``notifications.service``; the actor only
unpacks the job. Sending is idempotent per (appointment, event, recipient, channel) through
the message log, not ``run_once`` (the effect is outside the database). A temporary failure
raises ``RetryLater`` so Dramatiq retries with backoff; messages already sent are skipped.
"""

from __future__ import annotations

from uuid import UUID

from carebook.jobs.actor import Job, job_actor
from notifications import magic, reminders, service, staff_messages, webhooks
from tenants import staff_mail

QUEUE = "notifications"


def _appointment(job: Job) -> UUID:
    return UUID(str(job.args["appointment_id"]))


@job_actor("notifications.booked", queue=QUEUE)
async def booked(job: Job) -> None:
    """Confirmation to patient (.ics, manage link) and specialist; plans the reminders."""
    await service.on_booked(job.tenant, _appointment(job), job.id)


@job_actor("notifications.upcoming", queue=QUEUE)
async def upcoming(job: Job) -> None:
    """The reminder at the clinic's ``reminder_lead_hours`` (spec: upcoming → reminders)."""
    await service.on_upcoming(job.tenant, _appointment(job), job.id)


@job_actor("notifications.confirmed", queue=QUEUE)
async def confirmed(job: Job) -> None:
    """Staff confirmed: no message (the spec lists none)."""
    await service.on_confirmed(job.tenant, _appointment(job), job.id)


@job_actor("notifications.cancelled", queue=QUEUE)
async def cancelled(job: Job) -> None:
    """Cancellation notice to both sides with the reason; .ics METHOD:CANCEL."""
    reason = await service.history_reason(job.tenant, job.args.get("history_id"))
    await service.on_cancelled(job.tenant, _appointment(job), job.id, reason)


@job_actor("notifications.rescheduled", queue=QUEUE)
async def rescheduled(job: Job) -> None:
    """Reschedule notice to both sides (.ics with a higher SEQUENCE); re-plans reminders."""
    await service.on_rescheduled(job.tenant, _appointment(job), job.id)


@job_actor(reminders.ACTOR, queue=QUEUE)
async def reminder(job: Job) -> None:
    """Timed: one of the clinic's ``reminder_leads_hours``; skipped if the start moved."""
    await service.on_reminder(
        job.tenant,
        _appointment(job),
        job.id,
        int(job.args["lead_hours"]),
        job.args.get("starts_at"),
    )


@job_actor(magic.ACTOR, queue=QUEUE)
async def magic_link(job: Job) -> None:
    """E-mail a sign-in link to a known patient (unknown addresses: nothing is sent)."""
    await magic.send_link(job.tenant, UUID(str(job.args["magic_link_id"])), job.id)


@job_actor(staff_mail.ACTOR, queue=QUEUE)
async def staff_link(job: Job) -> None:
    """E-mail a staff member's invitation or password-reset link (nothing if it was used,
    replaced or expired meanwhile)."""
    await staff_messages.send_staff_link(job.tenant, UUID(str(job.args["link_id"])), job.id)


@job_actor(webhooks.ACTOR, queue=QUEUE)
async def deliver_webhooks(job: Job) -> None:
    """One lifecycle event (or a test event) to the clinic's subscribed webhook endpoints;
    the job id is the event id (stable across retries and duplicates)."""
    raw_appointment = job.args.get("appointment_id")
    raw_endpoint = job.args.get("endpoint_id")
    await webhooks.on_event(
        job.tenant,
        job.id,
        str(job.args.get("event", "")),
        UUID(str(raw_appointment)) if raw_appointment else None,
        UUID(str(raw_endpoint)) if raw_endpoint else None,
    )
