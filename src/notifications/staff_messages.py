"""Password links for clinic staff (invitation, reset) as e-mail: the job of
``tenants.staff_mail.send`` (``notifications.staff_link``).

The job carries the link's id; the tenants domain derives the link while it still works
(``password_links.pending_link``). One message per link (dedup key ``staff-link:<id>``), in
the clinic's default language, through the same log, SMTP channel and local outbox as every
other message. A link used, replaced or expired before the job ran sends nothing.
"""

from __future__ import annotations

from uuid import UUID

from carebook import i18n
from carebook.tenancy import Tenant, tenant_tx
from notifications.channels import Message
from notifications.delivery import Envelope, deliver
from notifications.render import branding, render
from tenants import password_links
from web.display import zone_or

TEMPLATES = {"invite": "staff_invite", "reset": "staff_reset"}


async def send_staff_link(tenant: Tenant, link_id: UUID, job_id: UUID | None) -> str | None:
    """E-mail password link ``link_id`` to its staff member; the log status (``None``: the
    link no longer works, so there is nothing to send)."""
    async with tenant_tx(tenant) as conn:
        link = await password_links.pending_link(conn, tenant.slug, link_id)
    if link is None:
        return None
    lang = i18n.choose(None, None, tenant.settings.default_language)
    template = TEMPLATES[link.purpose]
    zone = zone_or(None, tenant.timezone)
    until = f"{i18n.date_text(link.expires_at, zone, lang)}, " + (
        f"{i18n.time_text(link.expires_at, zone, lang)} {i18n.zone_text(zone, link.expires_at)}"
    )
    r = render(
        template, lang, tenant, brand=await branding(tenant),
        recipient_name=link.name, link=link.url, until=until,
    )  # fmt: skip
    env = Envelope(
        f"staff-link:{link_id}:{link.email.lower()}:email", None, f"staff_{link.purpose}",
        "staff", template, lang, job_id,
    )  # fmt: skip
    msg = Message("email", link.email, r.subject, r.text, r.html, (), tenant.name, None, r.images)
    return await deliver(tenant, env, msg)
