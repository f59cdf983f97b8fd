"""Notifications benchmark (issue 12): messages per second through the actor into an
in-process SMTP server, and the cost of rendering one message.

Run: ``.venv/bin/python bench/notifications.py``. Uses DATABASE_URL's server or the embedded
PostgreSQL, in its own database ``carebook_bench_notifications``; an ``aiosmtpd`` server on a
free port; the job relay and a Dramatiq worker (``BENCH_THREADS`` threads) in this process.
``BENCH_APPOINTMENTS`` booked appointments each get a ``notifications.booked`` job (two
e-mails: patient with .ics, specialist), so messages = 2 × appointments. SMTP connections
are kept alive (``notifications/smtp_pool.py``); ``CAREBOOK_SMTP_IDLE_SECONDS=0`` makes every
message open its own connection (the behaviour before the pool), for comparison.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from common import machine, prepare

APPOINTMENTS = int(os.environ.get("BENCH_APPOINTMENTS", "200"))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
RENDERS = int(os.environ.get("BENCH_RENDERS", "300"))
os.environ.setdefault("CAREBOOK_QUEUE_NAMESPACE", f"carebook-bench-{os.getpid()}")


class Inbox:
    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.target = 0
        self.peers: set[Any] = set()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.count += 1
            self.peers.add(session.peer)
            if self.count >= self.target:
                self.done.set()
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def setup() -> tuple[Any, list[uuid.UUID]]:
    from carebook.migrations import migrate_all
    from carebook.tenancy import tenant_tx
    from tenants.service import find_tenant, onboard_clinic

    await migrate_all(os.environ["DATABASE_URL"])
    await onboard_clinic(slug="bench-notify", name="Bench clinic", timezone="Europe/Berlin",
                         admin_email="admin@bench.test")  # fmt: skip
    tenant = await find_tenant("bench-notify")
    ids: list[uuid.UUID] = []
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    async with tenant_tx(tenant) as conn:
        sp = await conn.fetchval(
            "INSERT INTO specialists (name, email, timezone) "
            "VALUES ('Dr Bench', 'dr@bench.test', 'Europe/Berlin') RETURNING id"
        )
        svc = await conn.fetchval(
            "INSERT INTO services (name, default_duration_minutes) VALUES ('Bench', 30) "
            "RETURNING id"
        )
        cal = await conn.fetchval(
            "INSERT INTO calendars (service_id, name, slug, price_minor, currency, "
            "duration_minutes) VALUES ($1, 'Consultation', 'consult', 5000, 'EUR', 30) "
            "RETURNING id",
            svc,
        )
        for i in range(APPOINTMENTS):
            patient = await conn.fetchval(
                "INSERT INTO patients (email, name, timezone) VALUES ($1, $2, 'Europe/Berlin') "
                "RETURNING id",
                f"p{i}@bench.test", f"Patient {i}",
            )  # fmt: skip
            s = start + timedelta(minutes=30 * i)
            aid = await conn.fetchval(
                """INSERT INTO appointments (calendar_id, specialist_id, patient_id, status,
                       starts_at, ends_at, blocking, manage_token_hash)
                   VALUES ($1, $2, $3, 'booked', $4, $5, tstzrange($4, $5), $6)
                   RETURNING id""",
                cal, sp, patient, s, s + timedelta(minutes=30), os.urandom(32),
            )  # fmt: skip
            ids.append(aid)
    return tenant, ids


def render_cost(tenant: Any) -> dict[str, float]:
    from carebook.tenancy import Tenant  # noqa: F401 - typing only
    from notifications.render import render
    from web.ics import IcsEvent, build_ics

    now = datetime.now(UTC)
    values = {
        "recipient_name": "Pat Example", "other_name": "Dr Bench", "manage_url": "https://x/m",
        "clinic_url": "https://x/c", "date": "Monday 29 March 2027", "time": "10:00",
        "end_time": "10:30", "zone": "Europe/Berlin (CEST)", "service": "Consultation",
    }  # fmt: skip
    render("booked_patient", "de", tenant, **values)  # warm the template cache and catalog
    times = []
    for _ in range(RENDERS):
        t0 = time.perf_counter()
        render("booked_patient", "de", tenant, **values)
        build_ics(IcsEvent(uuid.uuid4(), now, now + timedelta(minutes=30), "s", "d", "l", "u",
                           False, 2, now), "https://x")  # fmt: skip
        times.append(time.perf_counter() - t0)
    return {"median_ms": statistics.median(times) * 1000, "mean_ms": statistics.mean(times) * 1000}


async def main(url: str) -> None:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    os.environ.update({"CAREBOOK_SMTP_HOST": "127.0.0.1", "CAREBOOK_SMTP_PORT": str(port),
                       "CAREBOOK_SMTP_SECURITY": "none"})  # fmt: skip
    tenant, ids = await setup()
    cost = render_cost(tenant)

    import dramatiq

    import carebook.actors  # noqa: F401 - declares every actor
    from carebook.broker import broker
    from carebook.jobs import outbox
    from carebook.jobs.relay import Relay
    from carebook.tenancy import tenant_tx

    inbox.target = 2 * len(ids)
    relay = Relay(url)
    worker = dramatiq.Worker(broker, worker_threads=THREADS)
    worker.start()
    started = time.perf_counter()
    async with tenant_tx(tenant) as conn:
        for aid in ids:
            await outbox.enqueue(conn, "notifications.booked", {"appointment_id": str(aid)})
    await relay.start()
    await asyncio.to_thread(inbox.done.wait, 300)
    elapsed = time.perf_counter() - started
    await relay.stop()
    await asyncio.to_thread(worker.stop)
    controller.stop()

    print(f"machine: {machine()}")
    print(f"render one e-mail (HTML+text, de) + .ics: median {cost['median_ms']:.2f} ms, "
          f"mean {cost['mean_ms']:.2f} ms over {RENDERS}")  # fmt: skip
    print(f"{len(ids)} notifications.booked jobs → {inbox.count} e-mails in {elapsed:.1f} s: "
          f"{inbox.count / elapsed:.1f} messages/s (worker threads: {THREADS}; "
          f"SMTP connections: {len(inbox.peers)})")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main(prepare("carebook_bench_notifications")))
