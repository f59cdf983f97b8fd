"""SMS through Twilio's Messages API contract, against a local fake Twilio (aiohttp) that
checks the request like Twilio does and answers with its success and error shapes."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from carebook.tenancy import tenant_tx
from notifications import service
from notifications.delivery import RetryLater
from tests.bookings.support import bookable, booking_body, idem, place_hold, slot
from tests.conftest import Clinic

SID, TOKEN, FROM = "AC" + "0" * 32, "twilio-secret", "+15005550006"


@dataclass
class FakeTwilio:
    """Accepted messages; ``script`` holds (status, code) answers to give first, in order."""

    messages: list[dict[str, str]] = field(default_factory=list)
    script: list[tuple[int, int]] = field(default_factory=list)
    requests: int = 0

    async def create(self, request: web.Request) -> web.Response:
        self.requests += 1
        expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return _error(401, 20003, "Authenticate")
        if request.match_info["sid"] != SID:
            return _error(404, 20404, "The requested resource was not found")
        if request.content_type != "application/x-www-form-urlencoded":
            return _error(400, 21620, "Invalid media type")
        form = await request.post()
        if self.script:
            status, code = self.script.pop(0)
            return _error(status, code, "scripted error")
        to, body = str(form.get("To", "")), str(form.get("Body", ""))
        if not to.startswith("+") or not to[1:].isdigit():
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not body:
            return _error(400, 21602, "Message body is required.")
        sid = "SM" + uuid.uuid4().hex
        self.messages.append({"sid": sid, "To": to, "From": str(form.get("From")), "Body": body})
        return web.json_response(
            {"sid": sid, "status": "queued", "to": to, "from": form.get("From"), "body": body,
             "account_sid": SID, "num_segments": "1", "error_code": None},
            status=201,
        )  # fmt: skip


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response(
        {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
         "status": status},
        status=status,
    )  # fmt: skip


@pytest.fixture
async def twilio(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeTwilio]:
    fake = FakeTwilio()
    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", fake.create)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    monkeypatch.setenv("CAREBOOK_TWILIO_ACCOUNT_SID", SID)
    monkeypatch.setenv("CAREBOOK_TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("CAREBOOK_TWILIO_FROM", FROM)
    monkeypatch.setenv("CAREBOOK_TWILIO_BASE_URL", str(server.make_url("")).rstrip("/"))
    monkeypatch.delenv("CAREBOOK_SMTP_HOST", raising=False)  # e-mail to the outbox
    try:
        yield fake
    finally:
        await server.close()


async def booked_with_phone(client: httpx.AsyncClient, clinic: Clinic, phone: str) -> uuid.UUID:
    setup = await bookable(clinic.tenant)
    hold = await place_hold(client, clinic.public, setup, slot(clinic.tenant, days=2, hour=10))
    body = booking_body(hold)
    body["patient"]["phone"] = phone
    r = await client.post(f"{clinic.public}/bookings", json=body, headers=idem())
    assert r.status_code == 201, r.text
    return uuid.UUID(r.json()["appointment_id"])


async def reminder(clinic: Clinic, aid: uuid.UUID) -> None:
    await service.on_reminder(clinic.tenant, aid, None, 24, None)


async def sms_log(clinic: Clinic) -> list[dict[str, Any]]:
    async with tenant_tx(clinic.tenant) as conn:
        rows = await conn.fetch("SELECT * FROM notification_log WHERE channel = 'sms'")
    return [dict(r) for r in rows]


async def test_reminder_sms_reaches_twilio_once(
    client: httpx.AsyncClient, clinic: Clinic, twilio: FakeTwilio
) -> None:
    aid = await booked_with_phone(client, clinic, "030 1234567")
    await reminder(clinic, aid)
    await reminder(clinic, aid)  # a duplicated job
    [sms] = twilio.messages
    assert sms["To"] == "+49301234567" and sms["From"] == FROM
    assert "Reminder: Consultation" in sms["Body"] and "10:00" in sms["Body"]
    assert f"/manage/{aid}?token=cbl_" in sms["Body"]
    [row] = await sms_log(clinic)
    assert (row["status"], row["transport"], row["attempts"]) == ("sent", "twilio", 1)
    assert row["provider_id"] == sms["sid"] and row["template"] == "sms_reminder"


async def test_429_is_retried_then_sent(
    client: httpx.AsyncClient, clinic: Clinic, twilio: FakeTwilio
) -> None:
    aid = await booked_with_phone(client, clinic, "+49 30 1234567")
    twilio.script = [(429, 20429)]
    with pytest.raises(RetryLater):
        await reminder(clinic, aid)
    [row] = await sms_log(clinic)
    assert (row["status"], row["attempts"]) == ("queued", 1) and "429" in row["error"]
    await reminder(clinic, aid)
    [row] = await sms_log(clinic)
    assert (row["status"], row["attempts"]) == ("sent", 2)
    assert len(twilio.messages) == 1


async def test_4xx_errors(
    client: httpx.AsyncClient, clinic: Clinic, twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    aid = await booked_with_phone(client, clinic, "+49 30 1234567")
    # Our credentials are wrong: kept queued (the operator fixes them), not lost.
    monkeypatch.setenv("CAREBOOK_TWILIO_AUTH_TOKEN", "wrong")
    with pytest.raises(RetryLater):
        await reminder(clinic, aid)
    assert "20003" in (await sms_log(clinic))[0]["error"]
    monkeypatch.setenv("CAREBOOK_TWILIO_AUTH_TOKEN", TOKEN)
    # The recipient cannot get SMS (21614 not a mobile number): bounced, never retried.
    twilio.script = [(400, 21614)]
    await reminder(clinic, aid)  # no RetryLater
    [row] = await sms_log(clinic)
    assert row["status"] == "bounced" and "21614" in row["error"]
    await reminder(clinic, aid)
    assert twilio.messages == [] and twilio.requests == 2


async def test_without_twilio_sms_goes_to_the_outbox(
    client: httpx.AsyncClient, clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CAREBOOK_TWILIO_ACCOUNT_SID", raising=False)
    monkeypatch.delenv("CAREBOOK_SMTP_HOST", raising=False)
    aid = await booked_with_phone(client, clinic, "+49 30 1234567")
    await reminder(clinic, aid)
    r = await client.get(f"{clinic.api}/outbox", headers=clinic.headers)
    sms = [m for m in r.json() if m["channel"] == "sms"]
    assert [m["recipient"] for m in sms] == ["+49301234567"]
    assert sms[0]["subject"] is None and "Reminder" in sms[0]["body_text"]
