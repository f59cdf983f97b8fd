"""What the lifecycle's notification actors do: compose, render and deliver the messages.

Each ``on_<event>(tenant, appointment_id, job_id)`` re-reads the appointment (actors take
ids), renders one message per recipient in that recipient's language and zone, and hands
it to ``delivery.deliver`` under the dedup key ``(appointment, event, recipient, channel)``.
A temporary failure of any message raises ``RetryLater`` after the others were tried; the
retry skips what was already sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from bookings import manage_links
from carebook import i18n
from carebook.settings import get_settings
from carebook.sqlfiles import sql
from carebook.tenancy import Tenant, tenant_tx
from notifications.channels import Attachment, Message
from notifications.delivery import Envelope, RetryLater, dedup_key, deliver
from notifications.render import branding, render, render_sms
from web.display import zone_or
from web.ics import IcsEvent, build_ics

log = logging.getLogger(__name__)
ACTIVE = frozenset({"booked", "upcoming", "confirmed"})


@dataclass(frozen=True)
class Notice:
    """One appointment as the messages about it need it."""

    row: asyncpg.Record

    def __getitem__(self, key: str) -> Any:
        return self.row[key]

    @property
    def id(self) -> UUID:
        return UUID(str(self.row["id"]))

    @property
    def starts_at(self) -> datetime:
        value: datetime = self.row["starts_at"]
        return value


async def load_notice(tenant: Tenant, appointment_id: UUID) -> Notice | None:
    async with tenant_tx(tenant) as conn:
        row = await conn.fetchrow(sql("notifications", "notice.sql"), appointment_id)
    return None if row is None else Notice(row)


def manage_url(tenant: Tenant, notice: Notice) -> str:
    base = get_settings().base_url
    if notice["manage_token_hash"] is None:
        return f"{base}/c/{tenant.slug}/"
    token = manage_links.link_token(tenant, notice.id, bytes(notice["manage_token_hash"]))
    return f"{base}/c/{tenant.slug}/manage/{notice.id}?token={token}"


def patient_language(tenant: Tenant, notice: Notice) -> str:
    return i18n.choose(notice["patient_language"], None, tenant.settings.default_language)


def when_values(notice: Notice, zone: ZoneInfo, lang: str) -> dict[str, str]:
    return {
        "date": i18n.date_text(notice.starts_at, zone, lang),
        "time": i18n.time_text(notice.starts_at, zone, lang),
        "end_time": i18n.time_text(notice["ends_at"], zone, lang),
        "zone": i18n.zone_text(zone, notice.starts_at),
        "service": notice["service_name"],
    }


def location_text(tenant: Tenant) -> str:
    s = tenant.settings
    return ", ".join(p for p in (tenant.name, s.address) if p)


def ics_attachment(tenant: Tenant, notice: Notice, lang: str, *, cancel: bool) -> Attachment:
    url = manage_url(tenant, notice)
    description = i18n.gettext(lang, "View or change your appointment") + f": {url}"
    method = "CANCEL" if cancel else "PUBLISH"
    body = build_ics(
        IcsEvent(
            appointment_id=notice.id,
            starts_at=notice.starts_at,
            ends_at=notice["ends_at"],
            summary=f"{notice['service_name']} – {tenant.name}",
            description=f"{notice['service_name']}, {notice['specialist_name']}\n{description}",
            location=location_text(tenant),
            url=url,
            cancelled=cancel,
            sequence=int(notice["version"]),
            last_modified=notice["updated_at"],
            organizer_email=tenant.settings.email,
            organizer_name=tenant.name,
        ),
        get_settings().base_url,
        method=method,
    )
    return Attachment("appointment.ics", f"text/calendar; method={method}", body)


async def send_all(tenant: Tenant, items: list[tuple[Envelope, Message]]) -> list[str]:
    """Deliver every message; if any must be retried, raise once the others were tried."""
    statuses: list[str] = []
    retry: RetryLater | None = None
    for env, msg in items:
        try:
            statuses.append(await deliver(tenant, env, msg))
        except RetryLater as exc:
            statuses.append("queued")
            retry = exc
    if retry is not None:
        raise retry
    return statuses


def _envelope(
    notice: Notice, event: str, to: str, kind: str, template: str, lang: str, job_id: UUID | None
) -> Envelope:
    key = dedup_key(notice.id, event, to, "email")
    return Envelope(key, notice.id, event, kind, template, lang, job_id)


async def _messages(
    tenant: Tenant,
    notice: Notice,
    event: str,
    template: str,
    job_id: UUID | None,
    *,
    ics: str | None = None,
    extra: dict[str, Any] | None = None,
) -> list[tuple[Envelope, Message]]:
    """The patient's and the specialist's e-mail about ``notice`` (``template``_patient/…)."""
    out: list[tuple[Envelope, Message]] = []
    values = dict(extra or {})
    brand = await branding(tenant)
    sender = tenant.name
    reply_to = tenant.settings.email
    if notice["patient_email"]:
        lang = patient_language(tenant, notice)
        zone = zone_or(notice["patient_timezone"], tenant.timezone)
        r = render(
            f"{template}_patient", lang, tenant, brand=brand,
            recipient_name=notice["patient_name"], other_name=notice["specialist_name"],
            manage_url=manage_url(tenant, notice),
            clinic_url=f"{get_settings().base_url}/c/{tenant.slug}/",
            **when_values(notice, zone, lang), **values,
        )  # fmt: skip
        attachments = (
            () if ics is None else (ics_attachment(tenant, notice, lang, cancel=ics == "cancel"),)
        )
        to = notice["patient_email"]
        env = _envelope(notice, event, to, "patient", f"{template}_patient", lang, job_id)
        msg = Message(
            "email", to, r.subject, r.text, r.html, attachments, sender, reply_to, r.images
        )
        out.append((env, msg))
    if notice["specialist_email"]:
        lang = i18n.choose(None, None, tenant.settings.default_language)
        zone = zone_or(notice["specialist_timezone"], tenant.timezone)
        r = render(
            f"{template}_specialist", lang, tenant, brand=brand,
            recipient_name=notice["specialist_name"], other_name=notice["patient_name"] or "",
            **when_values(notice, zone, lang), **values,
        )  # fmt: skip
        to = notice["specialist_email"]
        env = _envelope(notice, event, to, "specialist", f"{template}_specialist", lang, job_id)
        msg = Message("email", to, r.subject, r.text, r.html, (), sender, reply_to, r.images)
        out.append((env, msg))
    return out


def _sms(
    tenant: Tenant, notice: Notice, event: str, template: str, job_id: UUID | None
) -> list[tuple[Envelope, Message]]:
    """The patient's SMS about ``notice`` when they gave a phone number (E.164)."""
    to = notice["patient_phone"]
    if not to:
        return []
    lang = patient_language(tenant, notice)
    zone = zone_or(notice["patient_timezone"], tenant.timezone)
    text = render_sms(
        template, lang, tenant, manage_url=manage_url(tenant, notice),
        clinic_url=f"{get_settings().base_url}/c/{tenant.slug}/", **when_values(notice, zone, lang),
    )  # fmt: skip
    env = Envelope(
        dedup_key(notice.id, event, to, "sms"), notice.id, event, "patient",
        f"sms_{template}", lang, job_id,
    )  # fmt: skip
    return [(env, Message("sms", to, "", text))]


async def on_booked(tenant: Tenant, appointment_id: UUID, job_id: UUID | None) -> None:
    """Booking confirmation to the patient (with the .ics and manage link) and specialist."""
    notice = await load_notice(tenant, appointment_id)
    if notice is None or notice["status"] not in ACTIVE:
        return  # cancelled (or gone) before the job ran: the cancellation notice says it all
    await send_all(
        tenant, await _messages(tenant, notice, "booked", "booked", job_id, ics="publish")
    )
    await plan_reminders(tenant, notice)


async def on_cancelled(
    tenant: Tenant, appointment_id: UUID, job_id: UUID | None, reason: str | None = None
) -> None:
    """Cancellation notice to both sides; the .ics carries METHOD:CANCEL."""
    notice = await load_notice(tenant, appointment_id)
    if notice is None or notice["status"] != "cancelled":
        return
    items = await _messages(
        tenant, notice, "cancelled", "cancelled", job_id, ics="cancel", extra={"reason": reason}
    )
    await send_all(tenant, items + _sms(tenant, notice, "cancelled", "cancelled", job_id))
    await cancel_reminders(tenant, notice)


async def on_rescheduled(tenant: Tenant, appointment_id: UUID, job_id: UUID | None) -> None:
    """Reschedule notice to both sides, once per new start; the .ics has a higher SEQUENCE."""
    notice = await load_notice(tenant, appointment_id)
    if notice is None or notice["status"] not in ACTIVE:
        return
    event = f"rescheduled:{notice.starts_at.isoformat()}"
    await send_all(
        tenant, await _messages(tenant, notice, event, "rescheduled", job_id, ics="publish")
    )
    await plan_reminders(tenant, notice)


async def on_reminder(
    tenant: Tenant,
    appointment_id: UUID,
    job_id: UUID | None,
    lead_hours: int,
    starts_at: str | None = None,
) -> None:
    """The reminder ``lead_hours`` before the start, to both sides.

    ``starts_at`` is the start the reminder was planned for: if the appointment moved since,
    this reminder is stale and sends nothing (the move planned new ones).
    """
    notice = await load_notice(tenant, appointment_id)
    if notice is None or notice["status"] not in ACTIVE:
        return
    if starts_at is not None and datetime.fromisoformat(starts_at) != notice.starts_at:
        log.info("reminder for %s skipped: the appointment moved", appointment_id)
        return
    event = f"reminder:{lead_hours}h:{notice.starts_at.isoformat()}"
    items = await _messages(tenant, notice, event, "reminder", job_id)
    await send_all(tenant, items + _sms(tenant, notice, event, "reminder", job_id))


async def on_upcoming(tenant: Tenant, appointment_id: UUID, job_id: UUID | None) -> None:
    """The lifecycle's ``upcoming`` (at ``reminder_lead_hours``): that lead's reminder. Same
    dedup key as a planned reminder at the same lead, so it is never sent twice."""
    await on_reminder(tenant, appointment_id, job_id, tenant.settings.reminder_lead_hours)


async def history_reason(tenant: Tenant, history_id: object) -> str | None:
    """The reason recorded with a lifecycle event (a cancellation's reason)."""
    if history_id is None:
        return None
    async with tenant_tx(tenant) as conn:
        reason: str | None = await conn.fetchval(
            "SELECT reason FROM appointment_history WHERE id = $1", int(str(history_id))
        )
    return reason


async def on_confirmed(tenant: Tenant, appointment_id: UUID, job_id: UUID | None) -> None:
    """Staff confirmed the appointment: nothing is sent (the spec lists no message)."""


async def plan_reminders(tenant: Tenant, notice: Notice) -> None:
    """Reminders at each of the clinic's leads (``reminders.py``)."""
    from notifications import reminders

    await reminders.plan(tenant, notice.id, notice.starts_at)


async def cancel_reminders(tenant: Tenant, notice: Notice) -> None:
    from notifications import reminders

    await reminders.cancel(tenant, notice.id)
