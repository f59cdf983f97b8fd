"""Webhooks against a local receiver (aiohttp): signature, retries on 5xx and timeouts, giving
up into the log, never two deliveries of one event to a receiver that answered 2xx."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from notifications import webhooks
from notifications.delivery import RetryLater
from tests.bookings.lifecycle_support import book
from tests.bookings.support import bookable, slot
from tests.conftest import Clinic, JobsRunning, wait_for
from tests.helpers import problem


@dataclass
class Receiver:
    """Records every request; ``script`` holds answers to give first (a status or "slow")."""

    url: str = ""
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    script: list[int | str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.read()))
        answer = self.script.pop(0) if self.script else 200
        if answer == "slow":
            await asyncio.sleep(2)
            return web.Response(status=200)
        return web.Response(status=int(answer), text="ok")

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.requests]


@pytest.fixture
async def receiver(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    rec.url = str(server.make_url("/hook"))
    monkeypatch.setenv("CAREBOOK_WEBHOOK_TIMEOUT", "0.5")
    # The receiver listens on 127.0.0.1, which webhooks refuse by default (SSRF rule).
    monkeypatch.setenv("CAREBOOK_WEBHOOK_ALLOW_PRIVATE", "1")
    monkeypatch.setenv("CAREBOOK_NOTIFY_MAX_ATTEMPTS", "3")
    try:
        yield rec
    finally:
        await server.close()


async def add_endpoint(
    client: httpx.AsyncClient, clinic: Clinic, url: str, events: list[str]
) -> dict[str, Any]:
    r = await client.post(f"{clinic.api}/webhooks", json={"url": url, "events": events},
                          headers=clinic.headers)  # fmt: skip
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def deliveries(client: httpx.AsyncClient, clinic: Clinic, ep: dict[str, Any]) -> list[Any]:
    r = await client.get(f"{clinic.api}/webhooks/{ep['id']}/deliveries", headers=clinic.headers)
    assert r.status_code == 200, r.text
    return list(r.json())


async def booked_id(client: httpx.AsyncClient, clinic: Clinic) -> uuid.UUID:
    setup = await bookable(clinic.tenant)
    appt = await book(client, clinic, setup, slot(clinic.tenant, days=2, hour=10))
    return uuid.UUID(appt["appointment_id"])


async def test_signed_delivery_once_per_event(
    client: httpx.AsyncClient, clinic: Clinic, receiver: Receiver
) -> None:
    ep = await add_endpoint(client, clinic, receiver.url, ["appointment.booked"])
    assert ep["secret"].startswith("whsec_")
    listed = (await client.get(f"{clinic.api}/webhooks", headers=clinic.headers)).json()
    assert listed[0]["secret"] is None  # shown once
    aid = await booked_id(client, clinic)
    event_id = uuid.uuid4()
    await webhooks.on_event(clinic.tenant, event_id, "booked", aid)
    await webhooks.on_event(clinic.tenant, event_id, "booked", aid)  # duplicated job
    await webhooks.on_event(clinic.tenant, uuid.uuid4(), "cancelled", aid)  # not subscribed

    [(headers, body)] = receiver.requests
    assert webhooks.verify(ep["secret"], headers["Carebook-Signature"], body)
    assert not webhooks.verify("whsec_other", headers["Carebook-Signature"], body)
    assert not webhooks.verify(ep["secret"], headers["Carebook-Signature"], body + b" ")
    assert headers["Carebook-Event-Id"] == str(event_id)
    event = json.loads(body)
    assert event["type"] == "appointment.booked" and event["clinic"] == clinic.slug
    assert event["data"]["appointment_id"] == str(aid)
    assert "pat@example.test" not in body.decode()  # ids and times, no patient data
    [row] = await deliveries(client, clinic, ep)
    assert (row["status"], row["attempts"], row["response_status"]) == ("sent", 1, 200)


async def test_5xx_and_timeouts_are_retried_with_the_same_event(
    client: httpx.AsyncClient, clinic: Clinic, receiver: Receiver
) -> None:
    ep = await add_endpoint(client, clinic, receiver.url, ["*"])
    aid = await booked_id(client, clinic)
    event_id = uuid.uuid4()
    receiver.script = [503, "slow"]
    for expected_error in ("HTTP 503", "ReadTimeout"):
        with pytest.raises(RetryLater):
            await webhooks.on_event(clinic.tenant, event_id, "booked", aid)
        [row] = await deliveries(client, clinic, ep)
        assert row["status"] == "queued" and row["error"] == expected_error
    await webhooks.on_event(clinic.tenant, event_id, "booked", aid)
    [row] = await deliveries(client, clinic, ep)
    assert (row["status"], row["attempts"]) == ("sent", 3)
    bodies = {body for _, body in receiver.requests}
    ids = {h["Carebook-Event-Id"] for h, _ in receiver.requests}
    assert len(receiver.requests) == 3 and len(bodies) == 1 and ids == {str(event_id)}


async def test_gives_up_into_the_log(
    client: httpx.AsyncClient, clinic: Clinic, receiver: Receiver
) -> None:
    ep = await add_endpoint(client, clinic, receiver.url, ["appointment.cancelled"])
    aid = await booked_id(client, clinic)
    receiver.script = [500, 500, 500, 500]
    event_id = uuid.uuid4()
    for _ in range(2):
        with pytest.raises(RetryLater):
            await webhooks.on_event(clinic.tenant, event_id, "cancelled", aid)
    await webhooks.on_event(clinic.tenant, event_id, "cancelled", aid)  # the last attempt
    await webhooks.on_event(clinic.tenant, event_id, "cancelled", aid)  # nothing more
    [row] = await deliveries(client, clinic, ep)
    assert (row["status"], row["attempts"], row["response_status"]) == ("failed", 3, 500)
    assert len(receiver.requests) == 3
    # A receiver refusing with a 4xx is not retried.
    receiver.script = [410]
    await webhooks.on_event(clinic.tenant, uuid.uuid4(), "cancelled", aid)
    assert (await deliveries(client, clinic, ep))[0]["status"] == "failed"


async def test_endpoints_are_validated_and_admin_only(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    url = f"{clinic.api}/webhooks"
    body = {"url": "https://example.test/hook", "events": ["appointment.exploded"]}
    problem(await client.post(url, json=body, headers=clinic.headers), 422, "unknown_event")
    problem(await client.post(url, json={"url": "ftp://x", "events": ["*"]},
                              headers=clinic.headers), 422)  # fmt: skip
    problem(await client.post(url, json={"url": "https://x.test", "events": ["*"]}), 401)
    r = await client.delete(f"{url}/{uuid.uuid4()}", headers=clinic.headers)
    problem(r, 404, "webhook_not_found")


async def test_lifecycle_and_test_events_through_the_worker(
    client: httpx.AsyncClient, clinic: Clinic, receiver: Receiver, jobs_running: JobsRunning
) -> None:
    ep = await add_endpoint(client, clinic, receiver.url, ["appointment.booked"])
    r = await client.post(f"{clinic.api}/webhooks/{ep['id']}/test", headers=clinic.headers)
    assert r.status_code == 202, r.text
    await booked_id(client, clinic)

    async def both() -> bool:
        return {e["type"] for e in receiver.events()} >= {"webhook.test", "appointment.booked"}

    await wait_for(both)
    for headers, body in receiver.requests:
        assert webhooks.verify(ep["secret"], headers["Carebook-Signature"], body)
