"""A real SMTP server in-process (aiosmtpd) and booked appointments to write about."""

from __future__ import annotations

import email
import email.policy
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from uuid import UUID

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from carebook.tenancy import Tenant
from tests.bookings.support import Setup, bookable, booking_body, idem, place_hold, slot

logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd narrates every command


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    """What the SMTP server accepted; addresses in ``refuse`` get a 550 at RCPT."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    peers: list[Any] = field(default_factory=list)  # the client's (host, port) per message

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(msg)  # type: ignore[arg-type]
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.peers.append(session.peer)
        return "250 Message accepted"

    def connections(self) -> int:
        """How many SMTP connections carried the accepted messages."""
        return len(set(self.peers))

    def to(self, address: str) -> list[EmailMessage]:
        pairs = zip(self.messages, self.envelopes, strict=True)
        return [m for m, (_, rcpts) in pairs if address in rcpts]


@pytest.fixture
async def smtp(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Inbox]:
    """An SMTP server on a free port; the app sends to it (plain SMTP, no auth). The app's
    kept-alive connections of this event loop are closed afterwards."""
    from notifications import smtp_pool

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("CAREBOOK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CAREBOOK_SMTP_PORT", str(port))
    monkeypatch.setenv("CAREBOOK_SMTP_SECURITY", "none")
    monkeypatch.setenv("CAREBOOK_SMTP_FROM", "bookings@carebook.test")
    monkeypatch.setenv("CAREBOOK_SMTP_TIMEOUT", "5")
    try:
        yield inbox
    finally:
        await smtp_pool.close_all()
        controller.stop()


@dataclass
class Booked:
    setup: Setup
    appointment_id: UUID
    manage_url: str
    patient_email: str
    specialist_email: str


async def book_one(
    client: httpx.AsyncClient,
    tenant: Tenant,
    *,
    email_addr: str = "pat@example.test",
    days: int = 2,
    hour: int = 10,
    setup: Setup | None = None,
    patient_tz: str = "Europe/Berlin",
    start: datetime | None = None,
) -> Booked:
    from carebook.tenancy import tenant_tx

    setup = setup or await bookable(tenant)
    public = f"/api/v1/clinics/{tenant.slug}/public"
    start = start or slot(tenant, days=days, hour=hour)
    hold = await place_hold(client, public, setup, start)
    body = booking_body(hold, email=email_addr)
    body["patient"]["timezone"] = patient_tz
    r = await client.post(f"{public}/bookings", json=body, headers=idem())
    assert r.status_code == 201, r.text
    data = r.json()
    async with tenant_tx(tenant) as conn:
        sp_email = await conn.fetchval(
            "SELECT email FROM specialists WHERE id = $1", setup.specialist_id
        )
    return Booked(setup, UUID(data["appointment_id"]), data["manage_url"], email_addr, sp_email)


async def move(client: httpx.AsyncClient, clinic: Any, appointment_id: UUID, *, hours: int) -> None:
    """Reschedule through the staff API by ``hours``."""
    from tests.bookings.lifecycle_support import detail

    body = await detail(client, clinic, appointment_id)
    new_start = datetime.fromisoformat(body["start"]) + timedelta(hours=hours)
    r = await client.post(
        f"{clinic.api}/appointments/{appointment_id}/reschedule",
        json={"version": body["version"], "start": new_start.isoformat()},
        headers=clinic.headers,
    )
    assert r.status_code == 200, r.text


async def cancel(
    client: httpx.AsyncClient, clinic: Any, appointment_id: UUID, reason: str = "Patient called"
) -> None:
    """Cancel through the staff API."""
    from tests.bookings.lifecycle_support import act

    r = await act(client, clinic, appointment_id, "cancel", reason=reason)
    assert r.status_code == 200, r.text


async def set_clinic_settings(slug: str, **values: Any) -> Tenant:
    """Change a clinic's settings (what the settings API stores); the fresh Tenant."""
    import json

    from carebook.tenancy import platform_tx
    from tenants.service import find_tenant

    async with platform_tx() as conn:
        await conn.execute(
            "UPDATE public.tenants SET settings = settings || $2::jsonb WHERE slug = $1",
            slug,
            json.dumps(values),
        )
    return await find_tenant(slug)


def fresh_client(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """A client on the same in-process app with its own cookie jar."""
    return httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
