"""E-mail over SMTP against a real in-process server (aiosmtpd), and the message log."""

from __future__ import annotations

import asyncio
import os
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from icalendar import Calendar

from carebook.tenancy import tenant_tx
from notifications import service
from notifications.delivery import RetryLater
from tests.conftest import Clinic
from tests.notifications.conftest import Inbox, book_one, free_port


async def log_rows(clinic: Clinic) -> list[dict[str, Any]]:
    async with tenant_tx(clinic.tenant) as conn:
        rows = await conn.fetch("SELECT * FROM notification_log ORDER BY created_at, recipient")
    return [dict(r) for r in rows]


async def test_booking_confirmation_reaches_patient_and_specialist(
    client: httpx.AsyncClient, clinic: Clinic, smtp: Inbox
) -> None:
    booked = await book_one(client, clinic.tenant)
    await service.on_booked(clinic.tenant, booked.appointment_id, None)

    [mail] = smtp.to(booked.patient_email)
    assert mail["To"] == booked.patient_email
    assert clinic.tenant.name in mail["Subject"]
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Hello Pat Example" in text
    assert "10:00" in text and "Europe/Berlin" in text
    # The manage link in the e-mail opens the manage page.
    link = next(w for w in text.split() if "/manage/" in w)
    assert link in html
    page = await client.get(urlsplit(link).path + "?" + urlsplit(link).query)
    assert page.status_code == 200, page.text
    assert "Your appointment" in page.text
    # The .ics attachment: RFC 5545, stable UID, the manage link.
    [ics_part] = [p for p in mail.iter_attachments() if p.get_filename() == "appointment.ics"]
    assert ics_part.get_content_type() == "text/calendar"
    cal = Calendar.from_ical(ics_part.get_payload(decode=True))
    [event] = cal.walk("VEVENT")
    assert str(event["uid"]).startswith(str(booked.appointment_id))
    assert str(event["url"]) == link
    assert str(cal["method"]) == "PUBLISH"

    [to_specialist] = smtp.to(booked.specialist_email)
    assert "Pat Example" in to_specialist["Subject"]
    assert not list(to_specialist.iter_attachments())

    rows = await log_rows(clinic)
    assert {(r["recipient_kind"], r["status"], r["transport"]) for r in rows} == {
        ("patient", "sent", "smtp"),
        ("specialist", "sent", "smtp"),
    }
    assert all(r["attempts"] == 1 and r["provider_id"] and r["language"] == "en" for r in rows)


async def test_duplicated_job_sends_one_email(
    client: httpx.AsyncClient, clinic: Clinic, smtp: Inbox
) -> None:
    booked = await book_one(client, clinic.tenant)
    # The same job twice at once, then once more later (a redelivered message).
    await asyncio.gather(
        service.on_booked(clinic.tenant, booked.appointment_id, None),
        service.on_booked(clinic.tenant, booked.appointment_id, None),
    )
    await service.on_booked(clinic.tenant, booked.appointment_id, None)
    assert len(smtp.to(booked.patient_email)) == 1
    assert len(smtp.to(booked.specialist_email)) == 1
    assert [r["attempts"] for r in await log_rows(clinic)] == [1, 1]


async def test_smtp_down_is_retried_then_failed(
    client: httpx.AsyncClient, clinic: Clinic, smtp: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    booked = await book_one(client, clinic.tenant)
    monkeypatch.setenv("CAREBOOK_SMTP_PORT", str(free_port()))  # nothing listens there
    monkeypatch.setenv("CAREBOOK_NOTIFY_MAX_ATTEMPTS", "3")
    for attempt in (1, 2):
        with pytest.raises(RetryLater):
            await service.on_booked(clinic.tenant, booked.appointment_id, None)
        rows = await log_rows(clinic)
        assert {(r["status"], r["attempts"]) for r in rows} == {("queued", attempt)}
        assert all("SMTP unavailable" in r["error"] for r in rows)
    await service.on_booked(clinic.tenant, booked.appointment_id, None)  # gives up quietly
    rows = await log_rows(clinic)
    assert {(r["status"], r["attempts"]) for r in rows} == {("failed", 3)}
    assert smtp.messages == []


async def test_server_back_before_attempts_run_out_delivers(
    client: httpx.AsyncClient, clinic: Clinic, smtp: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    booked = await book_one(client, clinic.tenant)
    good_port = os.environ["CAREBOOK_SMTP_PORT"]
    monkeypatch.setenv("CAREBOOK_SMTP_PORT", str(free_port()))
    with pytest.raises(RetryLater):
        await service.on_booked(clinic.tenant, booked.appointment_id, None)
    monkeypatch.setenv("CAREBOOK_SMTP_PORT", good_port)
    await service.on_booked(clinic.tenant, booked.appointment_id, None)
    assert len(smtp.to(booked.patient_email)) == 1
    assert {(r["status"], r["attempts"]) for r in await log_rows(clinic)} == {("sent", 2)}


async def test_refused_recipient_is_bounced_and_not_retried(
    client: httpx.AsyncClient, clinic: Clinic, smtp: Inbox
) -> None:
    booked = await book_one(client, clinic.tenant, email_addr="gone@example.test")
    smtp.refuse.add("gone@example.test")
    await service.on_booked(clinic.tenant, booked.appointment_id, None)  # no RetryLater
    rows = {r["recipient_kind"]: r for r in await log_rows(clinic)}
    assert rows["patient"]["status"] == "bounced"
    assert "550" in rows["patient"]["error"]
    assert rows["specialist"]["status"] == "sent"
