"""Builders for the staff web app tests: staff members, browsers-like clients, sign-in."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from uuid import UUID

import httpx

from carebook.tenancy import tenant_tx
from tenants import staff as staff_store
from tests.conftest import Clinic

PASSWORD = "correct horse battery"
FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Member:
    id: UUID
    email: str
    role: str
    clinic: Clinic


async def add_member(clinic: Clinic, role: str, *, name: str | None = None) -> Member:
    email = f"{role}-{uuid.uuid4().hex[:6]}@{clinic.slug}.test"
    async with tenant_tx(clinic.tenant) as conn:
        staff_id = await staff_store.create_staff_user(
            conn, email=email, name=name or f"{role.title()} Person", role=role, password=PASSWORD
        )
    return Member(staff_id, email, role, clinic)


@asynccontextmanager
async def browser(client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A client with its own cookie jar on the test app (like a separate browser)."""
    async with httpx.AsyncClient(
        transport=client._transport, base_url="http://testserver", follow_redirects=False
    ) as c:
        yield c


def staff_url(clinic: Clinic, path: str = "") -> str:
    return f"/c/{clinic.slug}/staff{path}"


async def form_token(web: httpx.AsyncClient, clinic: Clinic, path: str = "/login") -> str:
    r = await web.get(staff_url(clinic, path))
    match = FORM_TOKEN.search(r.text)
    assert match, r.text[:500]
    return match.group(1)


async def sign_in(web: httpx.AsyncClient, member: Member, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the CSRF token of the signed-in pages."""
    clinic = member.clinic
    token = await form_token(web, clinic)
    r = await web.post(
        staff_url(clinic, "/login"),
        data={"email": member.email, "password": password, "form_token": token, "next": ""},
    )
    assert r.status_code == 303, (r.status_code, r.text[:300])
    page = await web.get(staff_url(clinic, "/agenda"))
    assert page.status_code == 200, page.text[:300]
    match = CSRF.search(page.text)
    assert match
    return match.group(1)


async def deliver_staff_mail(clinic: Clinic) -> int:
    """Run the clinic's waiting ``notifications.staff_link`` jobs in this process (no relay
    runs in these tests), as the worker would; how many ran."""
    import json

    from notifications import staff_messages
    from tenants import staff_mail

    async with tenant_tx(clinic.tenant) as conn:
        jobs = await conn.fetch(
            "DELETE FROM public.job_outbox WHERE schema_name = $1 AND actor = $2 "
            "RETURNING job_id, args",
            clinic.tenant.schema,
            staff_mail.ACTOR,
        )
    for job in jobs:
        link_id = UUID(json.loads(job["args"])["link_id"])
        await staff_messages.send_staff_link(clinic.tenant, link_id, job["job_id"])
    return len(jobs)


async def outbox_link(clinic: Clinic, email: str) -> str:
    """The password link of the newest staff e-mail to ``email`` in the notifications
    domain's local outbox (the embedded default: no SMTP configured)."""
    await deliver_staff_mail(clinic)
    async with tenant_tx(clinic.tenant) as conn:
        body = await conn.fetchval(
            """SELECT o.body_text FROM outbox_messages o
               JOIN notification_log l ON l.id = o.log_id
               WHERE lower(o.recipient) = lower($1) AND l.template LIKE 'staff\\_%'
               ORDER BY o.created_at DESC LIMIT 1""",
            email,
        )
    assert body, f"no message to {email}"
    match = re.search(r"https?://\S+/staff/password\?token=\S+", body)
    assert match, body
    return match.group(0)
