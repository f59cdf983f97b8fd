"""Messages of the reviews domain: the patient's invitation to review, the low-rating alert.

The reviews domain decides *that* a message is due (its actors ``reviews.invite`` and
``reviews.alert_admins``) and hands over ids and facts; this module writes and delivers the
messages, once per (appointment, event, recipient, channel) through the message log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

from carebook import i18n
from carebook.settings import get_settings
from carebook.tenancy import Tenant
from notifications.channels import Message
from notifications.delivery import Envelope, dedup_key
from notifications.render import branding, render
from notifications.service import (
    load_notice,
    manage_url,
    patient_language,
    send_all,
    when_values,
)
from web.display import zone_or

INVITE_EVENT = "review_invite"


@dataclass(frozen=True)
class LowRating:
    """A review below the clinic's threshold, as the alert tells it."""

    alert_id: UUID
    appointment_id: UUID
    rating: int
    threshold: int
    comment: str | None


@dataclass(frozen=True)
class StaffRecipient:
    email: str
    name: str


def review_url(appointment_manage_url: str) -> str:
    """The manage page's review form (``#review`` on the page the link token opens)."""
    return f"{appointment_manage_url}#review"


async def send_review_invitation(
    tenant: Tenant, appointment_id: UUID, job_id: UUID | None
) -> str | None:
    """Invite the patient of a done appointment to rate it; the log status, or ``None`` when
    there is nobody to write to (not done, no e-mail address, no manage link)."""
    notice = await load_notice(tenant, appointment_id)
    if notice is None or notice["status"] != "done" or not notice["patient_email"]:
        return None
    if notice["manage_token_hash"] is None:
        return None  # no manage page to review on
    lang = patient_language(tenant, notice)
    zone = zone_or(notice["patient_timezone"], tenant.timezone)
    r = render(
        "review_invite", lang, tenant, brand=await branding(tenant),
        recipient_name=notice["patient_name"], other_name=notice["specialist_name"],
        review_url=review_url(manage_url(tenant, notice)), **when_values(notice, zone, lang),
    )  # fmt: skip
    to = notice["patient_email"]
    env = Envelope(
        dedup_key(notice.id, INVITE_EVENT, to, "email"), notice.id, INVITE_EVENT, "patient",
        "review_invite", lang, job_id,
    )  # fmt: skip
    msg = Message(
        "email", to, r.subject, r.text, r.html, (), tenant.name, tenant.settings.email, r.images
    )
    [status] = await send_all(tenant, [(env, msg)])
    return status


async def send_low_rating_alert(
    tenant: Tenant, alert: LowRating, admins: Sequence[StaffRecipient], job_id: UUID | None
) -> list[str]:
    """The alert to every clinic admin at once, once each per review (one alert per review).

    In the clinic's language and zone; a temporary failure of one admin's e-mail retries the
    job, and the admins already written to are skipped then."""
    notice = await load_notice(tenant, alert.appointment_id)
    if notice is None:
        return []
    lang = i18n.choose(None, None, tenant.settings.default_language)
    zone = zone_or(None, tenant.timezone)
    base = get_settings().base_url
    event = f"review_alert:{alert.alert_id}"
    items = []
    brand = await branding(tenant)
    for admin in admins:
        r = render(
            "review_alert", lang, tenant, brand=brand,
            recipient_name=admin.name, other_name=notice["specialist_name"],
            rating=alert.rating, threshold=alert.threshold, comment=alert.comment,
            appointment_url=f"{base}/c/{tenant.slug}/staff/appointments/{notice.id}",
            **when_values(notice, zone, lang),
        )  # fmt: skip
        env = Envelope(
            dedup_key(notice.id, event, admin.email, "email"), notice.id, event, "staff",
            "review_alert", lang, job_id,
        )  # fmt: skip
        items.append((env, Message("email", admin.email, r.subject, r.text, r.html, (),
                                   tenant.name, tenant.settings.email, r.images)))  # fmt: skip
    return await send_all(tenant, items)
