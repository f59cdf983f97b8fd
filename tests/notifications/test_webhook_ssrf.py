"""Webhook URLs may not reach into our own network (SSRF): refused at create/update with 422
``webhook_url_not_allowed``, and again at delivery after DNS resolution (DNS rebinding)."""

from __future__ import annotations

import ipaddress
import uuid

import httpx
import pytest

from notifications import webhook_urls, webhooks
from tests.conftest import Clinic
from tests.helpers import problem
from tests.notifications.test_webhooks import Receiver, add_endpoint, booked_id, deliveries
from tests.notifications.test_webhooks import receiver as receiver  # the fixture

REFUSED = [
    "http://127.0.0.1:8080/hook",  # loopback
    "http://10.1.2.3/hook",  # private
    "http://192.168.0.10/hook",
    "http://100.64.0.1/hook",  # shared (carrier-grade NAT)
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
    "http://[::1]:8080/hook",  # IPv6 loopback
    "http://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
    "http://[fd00:ec2::254]/",  # IPv6 metadata (unique local)
    "http://[fe80::1]/hook",  # IPv6 link-local
    "http://224.0.0.1/hook",  # multicast
    "http://0.0.0.0:8080/hook",  # unspecified
    "http://localhost:8080/hook",  # a name resolving to 127.0.0.1
    "https://user:pw@example.test/hook",  # credentials in the URL
    "ftp://example.test/hook",  # not http(s)
    "file:///etc/passwd",
    "http:///no-host",
]


@pytest.fixture(autouse=True)
def private_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAREBOOK_WEBHOOK_ALLOW_PRIVATE", raising=False)


@pytest.mark.parametrize("url", REFUSED)
async def test_create_refuses_internal_targets(
    client: httpx.AsyncClient, clinic: Clinic, url: str
) -> None:
    r = await client.post(f"{clinic.api}/webhooks", json={"url": url, "events": ["*"]},
                          headers=clinic.headers)  # fmt: skip
    body = problem(r, 422, "webhook_url_not_allowed")
    assert body["errors"][0]["field"] == "url"


async def test_public_addresses_are_accepted_and_update_is_checked_too(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    ep = await add_endpoint(client, clinic, "HTTPS://93.184.215.14/hook", ["*"])
    assert ep["url"] == "https://93.184.215.14/hook"
    url = f"{clinic.api}/webhooks/{ep['id']}"
    r = await client.patch(url, json={"url": "http://169.254.169.254/"}, headers=clinic.headers)
    problem(r, 422, "webhook_url_not_allowed")
    r = await client.patch(url, json={"active": False, "events": ["appointment.booked"]},
                           headers=clinic.headers)  # fmt: skip
    assert r.status_code == 200, r.text
    assert (r.json()["url"], r.json()["active"]) == ("https://93.184.215.14/hook", False)
    r = await client.patch(f"{clinic.api}/webhooks/{uuid.uuid4()}", json={"active": True},
                           headers=clinic.headers)  # fmt: skip
    problem(r, 404, "webhook_not_found")


async def _stored_endpoint(clinic: Clinic, url: str) -> uuid.UUID:
    """An endpoint as the table holds it (a URL that passed its check when it was saved)."""
    from carebook.tenancy import tenant_tx

    async with tenant_tx(clinic.tenant) as conn:
        endpoint_id: uuid.UUID = await conn.fetchval(
            "INSERT INTO webhook_endpoints (url, secret, events) VALUES ($1, 'whsec_x', '{*}') "
            "RETURNING id",
            url,
        )
    return endpoint_id


async def test_delivery_refuses_a_name_that_now_resolves_to_loopback(
    client: httpx.AsyncClient, clinic: Clinic, receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The receiver is really there (127.0.0.1), reached through the name ``localhost``
    (real resolution): with private addresses refused, nothing reaches it and the log says
    ``failed`` at once (no retry)."""
    monkeypatch.delenv("CAREBOOK_WEBHOOK_ALLOW_PRIVATE", raising=False)
    port = httpx.URL(receiver.url).port
    endpoint_id = await _stored_endpoint(clinic, f"http://localhost:{port}/hook")
    aid = await booked_id(client, clinic)
    results = await webhooks.on_event(clinic.tenant, uuid.uuid4(), "booked", aid)
    assert results == {str(endpoint_id): "failed"}
    assert receiver.requests == []
    [row] = await deliveries(client, clinic, {"id": endpoint_id})
    assert row["status"] == "failed" and row["attempts"] == 1
    assert row["error"].startswith("address not allowed") and "127.0.0.1" in row["error"]

    # The same endpoint with the development setting on is delivered, to the checked address
    # with the name kept in Host.
    monkeypatch.setenv("CAREBOOK_WEBHOOK_ALLOW_PRIVATE", "1")
    await webhooks.on_event(clinic.tenant, uuid.uuid4(), "booked", aid)
    [(headers, _)] = receiver.requests
    assert headers["Host"] == f"localhost:{port}"


async def test_dns_rebinding_between_check_and_delivery_is_refused(
    client: httpx.AsyncClient, clinic: Clinic, receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """A name that resolved to a public address when saved and answers 127.0.0.1 at delivery
    time. No DNS server of ours can be told to lie here, so the resolver (the third party
    in this test) is replaced by one that answers like a rebinding attacker's."""
    monkeypatch.delenv("CAREBOOK_WEBHOOK_ALLOW_PRIVATE", raising=False)
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])
    port = httpx.URL(receiver.url).port

    async def rebinding(host: str, port: int) -> list[webhook_urls.IPAddress]:
        assert host == "hooks.rebind.test"
        return [ipaddress.ip_address(a) for a in next(answers)]

    monkeypatch.setattr(webhook_urls, "_resolve", rebinding)
    ep = await add_endpoint(client, clinic, f"http://hooks.rebind.test:{port}/hook", ["*"])
    aid = await booked_id(client, clinic)
    await webhooks.on_event(clinic.tenant, uuid.uuid4(), "booked", aid)
    assert receiver.requests == []
    [row] = await deliveries(client, clinic, ep)
    assert row["status"] == "failed" and "127.0.0.1" in row["error"]


@pytest.mark.parametrize(
    ("address", "public"),
    [("8.8.8.8", True), ("2606:4700::1111", True), ("10.0.0.1", False), ("172.16.5.4", False),
     ("127.0.0.53", False), ("169.254.169.254", False), ("::", False), ("ff02::1", False),
     ("64:ff9b::a00:1", False), ("64:ff9b::808:808", True), ("::ffff:10.0.0.1", False),
     ("198.18.0.1", False), ("240.0.0.1", False)],
)  # fmt: skip
def test_is_public(address: str, public: bool) -> None:
    assert webhook_urls.is_public(ipaddress.ip_address(address)) is public
