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


async def outbox_link(clinic: Clinic, email: str) -> str:
    from tenants import staff_mail

    async with tenant_tx(clinic.tenant) as conn:
        messages = await staff_mail.outbox(conn, email)
    assert messages, f"no message to {email}"
    match = re.search(r"https?://\S+/staff/password\?token=\S+", messages[0].body)
    assert match, messages[0].body
    return match.group(0)
