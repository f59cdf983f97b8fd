"""Kept-alive SMTP connections (notifications/smtp_pool.py) against aiosmtpd: several messages
over one connection, a dropped connection replaced, concurrent senders, idle connections
closed."""

from __future__ import annotations

import asyncio
import threading
import uuid
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from carebook.tenancy import tenant_tx
from notifications import config, smtp_pool
from notifications.channels import Message
from notifications.delivery import Envelope, deliver
from tests.conftest import Clinic
from tests.notifications.conftest import Inbox, free_port
from tests.tcp_proxy import TcpProxy


def envelope(n: int) -> Envelope:
    return Envelope(f"test:{uuid.uuid4()}:{n}", None, "test", "patient", "magic_link", "en")


def message(n: int) -> Message:
    return Message("email", f"p{n}@example.test", f"Message {n}", f"Body {n}\n")


async def statuses(clinic: Clinic) -> list[str]:
    async with tenant_tx(clinic.tenant) as conn:
        rows = await conn.fetch("SELECT status FROM notification_log")
    return [r["status"] for r in rows]


async def test_several_messages_share_one_connection(clinic: Clinic, smtp: Inbox) -> None:
    for n in range(5):
        assert await deliver(clinic.tenant, envelope(n), message(n)) == "sent"
    assert len(smtp.messages) == 5
    assert smtp.connections() == 1
    cfg = config.smtp_config()
    assert cfg is not None and smtp_pool.pool_for(cfg).opened == 1


async def test_concurrent_messages_use_at_most_the_pool_size(
    clinic: Clinic, smtp: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAREBOOK_SMTP_CONNECTIONS", "2")
    results = await asyncio.gather(
        *(deliver(clinic.tenant, envelope(n), message(n)) for n in range(8))
    )
    assert results == ["sent"] * 8
    assert sorted(m["Subject"] for m in smtp.messages) == sorted(f"Message {n}" for n in range(8))
    assert 1 <= smtp.connections() <= 2


async def test_a_dropped_connection_is_replaced(
    clinic: Clinic, smtp: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server side resets the kept connection (a proxy between us and the server is
    cut, then lets new connections through): the next message goes over a new one."""
    upstream_port = int(str(config.smtp_config().port))  # type: ignore[union-attr]
    proxy = await TcpProxy("127.0.0.1", upstream_port).start()
    monkeypatch.setenv("CAREBOOK_SMTP_PORT", str(proxy.port))
    try:
        await deliver(clinic.tenant, envelope(1), message(1))
        await deliver(clinic.tenant, envelope(2), message(2))
        assert smtp.connections() == 1
        proxy.cut()
        proxy.restore()
        assert await deliver(clinic.tenant, envelope(3), message(3)) == "sent"
        assert await deliver(clinic.tenant, envelope(4), message(4)) == "sent"
    finally:
        await proxy.close()
    assert [m["Subject"] for m in smtp.messages] == [f"Message {n}" for n in (1, 2, 3, 4)]
    assert smtp.connections() == 2
    assert await statuses(clinic) == ["sent"] * 4


class TimingOut(Inbox):
    """Answers 421 (closing) to MAIL FROM on a connection that already carried a message: a
    server whose idle timeout ended the session while our client still holds it."""

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if session.peer in self.peers:
            return "421 4.4.2 idle too long, closing connection"
        envelope.mail_from = address
        return "250 OK"


async def test_a_session_the_server_timed_out_is_replaced(
    clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = TimingOut()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    for key, value in {"HOST": "127.0.0.1", "PORT": str(controller.port), "SECURITY": "none",
                       "FROM": "bookings@carebook.test"}.items():  # fmt: skip
        monkeypatch.setenv(f"CAREBOOK_SMTP_{key}", value)
    try:
        for n in range(3):
            assert await deliver(clinic.tenant, envelope(n), message(n)) == "sent"
        cfg = config.smtp_config()
        assert cfg is not None
        assert smtp_pool.pool_for(cfg).opened == 3  # each kept session refused: a new one
    finally:
        await smtp_pool.close_all()
        controller.stop()
    assert [m["Subject"] for m in inbox.messages] == [f"Message {n}" for n in range(3)]
    assert inbox.connections() == 3


async def test_idle_connections_are_closed(
    clinic: Clinic, smtp: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAREBOOK_SMTP_IDLE_SECONDS", "0.2")
    await deliver(clinic.tenant, envelope(1), message(1))
    cfg = config.smtp_config()
    assert cfg is not None
    pool = smtp_pool.pool_for(cfg)
    [pooled] = pool.idle

    async def closed() -> bool:
        return not pool.idle and not pooled.client.is_connected

    from tests.conftest import wait_for

    await wait_for(closed)
    assert await deliver(clinic.tenant, envelope(2), message(2)) == "sent"
    assert pool.opened == 2 and smtp.connections() == 2


def test_each_event_loop_has_its_own_connections(smtp: Inbox) -> None:
    """Actor threads with loops of their own (and the app's loop) never share a client."""
    cfg = config.smtp_config()
    assert cfg is not None
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        async def run() -> None:
            pool = smtp_pool.pool_for(cfg)
            for i in range(3):
                mail = EmailMessage()
                mail["From"], mail["To"] = "bookings@carebook.test", f"t{n}@example.test"
                mail["Subject"] = f"thread {n} message {i}"
                mail.set_content("hello")
                await pool.send(mail)
            await smtp_pool.close_all()

        try:
            asyncio.run(run())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert len(smtp.messages) == 9
    assert smtp.connections() == 3  # one per loop, three messages each
