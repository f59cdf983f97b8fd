"""Staff e-mails (invitation, password reset) through the notifications domain: over SMTP
when it is configured, else in the local outbox (clinic admins only: they carry credentials)."""

from __future__ import annotations

import re

import httpx

from carebook.tenancy import tenant_tx
from tenants import password_links
from tests.bookings.lifecycle_support import staff_member
from tests.conftest import Clinic
from tests.notifications.conftest import Inbox
from tests.notifications.jobs import run_jobs
from tests.web.staff.support import browser
from tests.web.staff.test_sign_in import choose_password

LINK = re.compile(r"https?://\S+/staff/password\?token=\S+")


async def test_reset_link_arrives_over_smtp_once_and_works(
    client: httpx.AsyncClient, clinic: Clinic, smtp: Inbox
) -> None:
    admin = f"admin@{clinic.slug}.test"
    async with tenant_tx(clinic.tenant) as conn:
        await password_links.request_reset(conn, clinic.slug, admin)
        await password_links.request_reset(conn, clinic.slug, "nobody@example.test")
    # The onboarding invitation (replaced by the reset before its job ran) and the reset.
    assert await run_jobs(clinic.tenant, "notifications.staff_link", deliveries=2) == 2

    [mail] = smtp.to(admin)  # the stale invitation sent nothing; a duplicate job neither
    assert mail["Subject"].startswith("Reset your") and clinic.tenant.name in mail["Subject"]
    text = str(mail.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    link = LINK.search(text)
    assert link, text
    async with browser(client) as web:
        assert await choose_password(web, clinic, link.group(0), "a fresh password 1") == 303
    async with tenant_tx(clinic.tenant) as conn:
        rows = await conn.fetch(
            "SELECT template, recipient_kind, transport, status FROM notification_log"
        )
    assert [tuple(r) for r in rows] == [("staff_reset", "staff", "smtp", "sent")]


async def test_without_smtp_staff_mail_waits_in_the_outbox_for_admins_only(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    _, desk = await staff_member(clinic, "receptionist", "desk@example.test")
    assert await run_jobs(clinic.tenant, "notifications.staff_link") == 1  # the invitation
    r = await client.get(f"{clinic.api}/outbox", headers=clinic.headers)
    assert r.status_code == 200, r.text
    [invite] = [m for m in r.json() if m["template"] == "staff_invite"]
    assert invite["recipient"] == f"admin@{clinic.slug}.test"
    assert LINK.search(invite["body_text"])
    r = await client.get(f"{clinic.api}/outbox", headers=desk)
    assert r.status_code == 200 and r.json() == []
