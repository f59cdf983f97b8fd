"""Magic-link sign-in for patients (appointments spec §3): "e-mail me a link".

- A request always writes one ``magic_links`` row and one job, whether the e-mail belongs to
  a patient of this clinic or not, and answers with the same page: nothing tells the two
  apart. The job (``notifications.magic_link``) sends only for a known patient, and at most
  ``PER_EMAIL_PER_WINDOW`` links per address per window (no mail-bombing through us).
- The link is ``/c/<clinic>/sign-in/<id>.<HMAC(secret, schema, id)>``: worthless without the
  server's key, bound to one clinic's schema, valid for ``LINK_MINUTES`` and once.
- Opening it shows a button; its POST spends the link (mail scanners that fetch links with
  GET do not use it up). Using it sets a patient session cookie for that clinic's pages only
  (path ``/c/<clinic>/``, HMAC-signed patient id and expiry, ``SESSION_MINUTES``), so the
  list survives a reload.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import datetime
from typing import Any
from uuid import UUID

from carebook import i18n
from carebook.jobs import outbox
from carebook.settings import get_settings
from carebook.sqlfiles import sql
from carebook.tenancy import Tenant, tenant_tx
from notifications.channels import Message
from notifications.delivery import Envelope, deliver
from notifications.render import branding, render

LINK_MINUTES = 15
SESSION_MINUTES = 30
PER_EMAIL_PER_WINDOW = 3
ACTOR = "notifications.magic_link"
SESSION_COOKIE = "carebook_patient"


def _mac(*parts: bytes) -> str:
    digest = hmac.new(get_settings().secret_key.encode(), b"\x00".join(parts), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")


def link_token(tenant: Tenant, link_id: UUID) -> str:
    return f"{link_id}.{_mac(b'magic-link', tenant.schema.encode(), link_id.bytes)}"


def link_url(tenant: Tenant, link_id: UUID) -> str:
    return f"{get_settings().base_url}/c/{tenant.slug}/sign-in/{link_token(tenant, link_id)}"


def parse_token(tenant: Tenant, token: str) -> UUID | None:
    """The link id if ``token`` was made for this clinic; ``None`` otherwise."""
    raw_id, _, mac = token.partition(".")
    try:
        link_id = UUID(raw_id)
    except ValueError:
        return None
    expected = link_token(tenant, link_id).partition(".")[2]
    return link_id if hmac.compare_digest(expected.encode(), mac.encode()) else None


async def request_link(tenant: Tenant, email: str, language: str) -> None:
    """Record the request and queue its job; the same work for known and unknown e-mails."""
    async with tenant_tx(tenant) as conn:
        link_id = await conn.fetchval(
            """INSERT INTO magic_links (email_key, patient_id, language, expires_at)
               VALUES (lower($1), (SELECT id FROM patients WHERE lower(email) = lower($1)),
                       $2, now() + make_interval(mins => $3))
               RETURNING id""",
            email,
            language,
            LINK_MINUTES,
        )
        await outbox.enqueue(conn, ACTOR, {"magic_link_id": str(link_id)})


async def send_link(tenant: Tenant, link_id: UUID, job_id: UUID | None) -> str | None:
    """The job: e-mail the link to a known patient (within the per-address budget)."""
    async with tenant_tx(tenant) as conn:
        row = await conn.fetchrow(
            """SELECT m.id, m.language, m.expires_at, m.used_at, p.email,
                      (SELECT count(*) FROM magic_links o
                       WHERE o.email_key = m.email_key AND o.patient_id IS NOT NULL
                         AND o.created_at > m.created_at - make_interval(mins => $2)
                         AND o.created_at <= m.created_at) AS recent
               FROM magic_links m JOIN patients p ON p.id = m.patient_id
               WHERE m.id = $1""",
            link_id,
            LINK_MINUTES,
        )
    if row is None or row["used_at"] is not None or row["recent"] > PER_EMAIL_PER_WINDOW:
        return None  # unknown e-mail, already used, or too many links for this address
    lang = row["language"]
    r = render(
        "magic_link", lang, tenant, brand=await branding(tenant),
        link=link_url(tenant, link_id), minutes=LINK_MINUTES,
    )  # fmt: skip
    to = row["email"]
    env = Envelope(
        f"magic:{link_id}:{to.lower()}:email", None, "magic_link", "patient", "magic_link",
        lang, job_id,
    )  # fmt: skip
    msg = Message(
        "email", to, r.subject, r.text, r.html, (), tenant.name, tenant.settings.email, r.images
    )
    return await deliver(tenant, env, msg)


async def link_usable(tenant: Tenant, token: str) -> bool:
    """Whether the link would sign in now (without spending it: the confirm page's check)."""
    link_id = parse_token(tenant, token)
    if link_id is None:
        return False
    async with tenant_tx(tenant) as conn:
        usable = await conn.fetchval(
            """SELECT 1 FROM magic_links WHERE id = $1 AND used_at IS NULL
                 AND expires_at > now() AND patient_id IS NOT NULL""",
            link_id,
        )
    return bool(usable)


async def use_link(tenant: Tenant, token: str) -> UUID | None:
    """Spend the link: the patient's id, once, while it is fresh; ``None`` otherwise."""
    link_id = parse_token(tenant, token)
    if link_id is None:
        return None
    async with tenant_tx(tenant) as conn:
        patient_id: UUID | None = await conn.fetchval(
            """UPDATE magic_links SET used_at = now()
               WHERE id = $1 AND used_at IS NULL AND expires_at > now()
                 AND patient_id IS NOT NULL
               RETURNING patient_id""",
            link_id,
        )
    return patient_id


def session_value(tenant: Tenant, patient_id: UUID, now: float | None = None) -> str:
    expires = int((now or time.time()) + SESSION_MINUTES * 60)
    mac = _mac(b"patient-session", tenant.schema.encode(), patient_id.bytes, str(expires).encode())
    return f"{patient_id}.{expires}.{mac}"


def session_patient(tenant: Tenant, value: str | None) -> UUID | None:
    """The patient of a valid, unexpired session cookie of this clinic."""
    if not value:
        return None
    raw_id, _, rest = value.partition(".")
    raw_exp, _, mac = rest.partition(".")
    try:
        patient_id, expires = UUID(raw_id), int(raw_exp)
    except ValueError:
        return None
    if expires < time.time():
        return None
    expected = _mac(
        b"patient-session", tenant.schema.encode(), patient_id.bytes, str(expires).encode()
    )
    return patient_id if hmac.compare_digest(expected.encode(), mac.encode()) else None


async def patient_appointments(tenant: Tenant, patient_id: UUID) -> list[dict[str, Any]]:
    """The patient's appointments at this clinic, soonest first, with manage links."""
    from bookings import manage_links

    async with tenant_tx(tenant) as conn:
        rows = await conn.fetch(sql("notifications", "patient_appointments.sql"), patient_id)
    base = get_settings().base_url
    out = []
    for r in rows:
        token = manage_links.link_token(tenant, r["id"], bytes(r["manage_token_hash"]))
        out.append(
            {
                **{
                    k: r[k]
                    for k in (
                        "id",
                        "status",
                        "starts_at",
                        "ends_at",
                        "service_name",
                        "specialist_name",
                        "patient_timezone",
                    )
                },
                "manage_url": f"{base}/c/{tenant.slug}/manage/{r['id']}?token={token}",
            }
        )
    return out


def when_text(starts_at: datetime, ends_at: datetime, zone: Any, lang: str) -> dict[str, str]:
    return {
        "date": i18n.date_text(starts_at, zone, lang),
        "times": f"{i18n.time_text(starts_at, zone, lang)}–{i18n.time_text(ends_at, zone, lang)}",
    }
