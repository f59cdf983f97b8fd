"""The production topology from the command line (issues 11 and 16): two app processes
(`carebook run --no-worker`), a worker (`carebook worker`) and the scheduler
(`carebook scheduler`), on the machine's services, driving booking → reminder → completion
across them."""

from __future__ import annotations

import socket
import sys
import time
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from carebook.tenancy import tenant_tx
from tests.bookings.lifecycle_support import shift_start
from tests.bookings.support import bookable, booking_body, hold_body, slot
from tests.carebook.test_jobs_faults import process
from tests.conftest import Clinic, wait_for

pytestmark = pytest.mark.slow
CAREBOOK = [sys.executable, "-m", "carebook"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _up(url: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not start")


async def test_booking_reminder_completion_across_processes(clinic: Clinic) -> None:
    setup = await bookable(clinic.tenant)
    ports = [_port(), _port()]
    env = {"CAREBOOK_RELAY": "1"}
    with (
        process([*CAREBOOK, "run", "--no-worker", "--no-demo", "--port", str(ports[0])],
                "topology-app-a", **env),
        process([*CAREBOOK, "run", "--no-worker", "--no-demo", "--port", str(ports[1])],
                "topology-app-b", **env),
        process([*CAREBOOK, "worker", "--processes", "1", "--threads", "2"], "topology-worker"),
        process([*CAREBOOK, "scheduler"], "topology-scheduler"),
    ):  # fmt: skip
        a, b = (f"http://127.0.0.1:{p}" for p in ports)
        _up(a)
        _up(b)
        async with httpx.AsyncClient(timeout=30) as http:
            # Hold through one app process, book through the other.
            r = await http.post(
                f"{a}{clinic.public}/holds",
                json=hold_body(setup, slot(clinic.tenant, days=3, hour=11)),
            )
            assert r.status_code == 201, r.text
            r = await http.post(f"{b}{clinic.public}/bookings", json=booking_body(r.json()),
                                headers={"Idempotency-Key": "topology-1"})  # fmt: skip
            assert r.status_code == 201, r.text
            aid = r.json()["appointment_id"]

            async def appointment() -> dict[str, Any]:
                got = await http.get(f"{a}{clinic.api}/appointments/{aid}",
                                     headers=clinic.headers)  # fmt: skip
                assert got.status_code == 200, got.text
                body: dict[str, Any] = got.json()
                return body

            async def messages(template_part: str) -> list[dict[str, Any]]:
                got = await http.get(
                    f"{b}{clinic.api}/notifications",
                    params={"appointment_id": aid},
                    headers=clinic.headers,
                )
                assert got.status_code == 200, got.text
                return [m for m in got.json() if template_part in m["template"]]

            # The worker confirmed the booking by e-mail (local outbox: no SMTP configured).
            await wait_for(lambda: messages("booked"), timeout=60)
            # The reminder lead begins: the scheduler moves the timed job, the worker moves
            # the appointment to upcoming and the reminder goes out.
            async with tenant_tx(clinic.tenant) as conn:
                await conn.execute(
                    "UPDATE public.scheduled_jobs SET due_at = now() "
                    "WHERE schema_name = $1 AND key LIKE $2",
                    clinic.tenant.schema, f"appointment:{aid}:%",
                )  # fmt: skip

            async def upcoming() -> bool:
                return (await appointment())["status"] == "upcoming"

            await wait_for(upcoming, timeout=60)
            await wait_for(lambda: messages("reminder"), timeout=60)

            # Staff act through both processes; the visit takes place and completes.
            for base, action in ((a, "confirm"), (b, "start"), (a, "complete")):
                if action == "start":
                    async with tenant_tx(clinic.tenant) as conn:
                        start = await conn.fetchval(
                            "SELECT starts_at FROM appointments WHERE id = $1", UUID(aid)
                        )
                    await shift_start(
                        clinic.tenant, aid, start.now(start.tzinfo) + timedelta(minutes=5) - start
                    )
                version = (await appointment())["version"]
                r = await http.post(f"{base}{clinic.api}/appointments/{aid}/transitions",
                                    json={"action": action, "version": version},
                                    headers=clinic.headers)  # fmt: skip
                assert r.status_code == 200, r.text
            assert (await appointment())["status"] == "done"

            # The done jobs ran in the worker: every job of this appointment is recorded once.
            async def all_done() -> bool:
                async with tenant_tx(clinic.tenant) as conn:
                    waiting = await conn.fetchval(
                        "SELECT count(*) FROM public.job_outbox WHERE schema_name = $1",
                        clinic.tenant.schema,
                    )
                # The invitation is idempotent per message (the notifications log), not by
                # a job_runs row: exactly one invitation e-mail.
                invited = len(await messages("review_invite"))
                return waiting == 0 and invited == 1

            await wait_for(all_done, timeout=60)
