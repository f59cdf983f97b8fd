"""Video rooms driven by the appointment lifecycle: real transitions write the jobs, the real
relay hands them to a real Dramatiq worker, whose video actors talk to the fake Daily."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from carebook.tenancy import Tenant, tenant_tx
from tests.bookings.lifecycle_support import act, book, detail
from tests.bookings.support import bookable, slot
from tests.conftest import Clinic, JobsRunning, wait_for
from tests.video.fake_daily import FakeDaily
from tests.video.support import set_clinic_settings
from video.config import get_video_settings
from video.providers import room_name


@pytest.fixture
def daily_env(fake_daily: FakeDaily, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDaily]:
    """The platform's Daily settings point at the fake (the worker thread reads them too)."""
    monkeypatch.setenv("DAILY_API_KEY", fake_daily.api_key)
    monkeypatch.setenv("DAILY_API_URL", fake_daily.url)
    get_video_settings.cache_clear()
    yield fake_daily
    monkeypatch.undo()
    get_video_settings.cache_clear()


async def video_setup(clinic: Clinic) -> tuple[Tenant, Any]:
    tenant = await set_clinic_settings(clinic.tenant, video_provider="daily")
    setup = await bookable(tenant)
    async with tenant_tx(tenant) as conn:
        await conn.execute("UPDATE calendars SET video = true WHERE id = $1", setup.calendar_id)
    return tenant, setup


async def room_row(tenant: Tenant, appointment_id: str) -> dict[str, Any] | None:
    async with tenant_tx(tenant) as conn:
        row = await conn.fetchrow(
            "SELECT * FROM video_rooms WHERE appointment_id = $1", UUID(appointment_id)
        )
    return dict(row) if row else None


async def status_is(tenant: Tenant, appointment_id: str, status: str) -> Any:
    async def check() -> bool:
        row = await room_row(tenant, appointment_id)
        return row is not None and row["status"] == status

    return await wait_for(check)


async def test_booking_makes_one_room_even_when_the_job_arrives_twice(
    client: httpx.AsyncClient, clinic: Clinic, daily_env: FakeDaily, jobs_running: JobsRunning
) -> None:
    tenant, setup = await video_setup(clinic)
    appt = await book(client, clinic, setup, slot(tenant, days=2))
    aid = appt["appointment_id"]
    await status_is(tenant, aid, "ready")
    # The room is ready before the job's run is recorded (the effect commits first, then
    # job_runs): wait for the record, whose job id is sent again below.
    await wait_for(lambda: _runs(tenant, "video.create_room", 1))
    args = f'{{"appointment_id": "{aid}", "event": "booked"}}'
    async with tenant_tx(tenant) as conn:
        original = await conn.fetchval(
            "SELECT job_id FROM job_runs WHERE actor = 'video.create_room'"
        )
        # The same job again (a relay that died before its commit re-sends it), and another
        # create-room job for the same appointment.
        for job_id in (original, uuid4()):
            await conn.execute(
                "INSERT INTO public.job_outbox (job_id, schema_name, actor, args) "
                "VALUES ($1, $2, 'video.create_room', $3::jsonb)",
                job_id, tenant.schema, args,
            )  # fmt: skip
    await wait_for(lambda: _runs(tenant, "video.create_room", 2))
    assert list(daily_env.rooms) == [room_name(UUID(aid))]
    assert daily_env.count("POST", "/rooms") == 1  # one create call in all
    row = await room_row(tenant, aid)
    assert row is not None and row["provider"] == "daily" and row["status"] == "ready"
    config = daily_env.rooms[room_name(UUID(aid))]["config"]
    start = datetime.fromisoformat(appt["start"])
    assert config["nbf"] == int(start.timestamp()) - 15 * 60
    # The expiry sweep is scheduled for end + grace, under the appointment's key prefix.
    async with tenant_tx(tenant) as conn:
        due = await conn.fetchval(
            "SELECT due_at FROM public.scheduled_jobs WHERE schema_name = $1 AND key = $2",
            tenant.schema,
            f"appointment:{aid}:video.expire",
        )
    assert due == row["closes_at"]


async def _runs(tenant: Tenant, actor: str, n: int) -> bool:
    async with tenant_tx(tenant) as conn:
        count = await conn.fetchval("SELECT count(*) FROM job_runs WHERE actor = $1", actor)
    return bool(count >= n)


async def test_cancel_deletes_the_room(
    client: httpx.AsyncClient, clinic: Clinic, daily_env: FakeDaily, jobs_running: JobsRunning
) -> None:
    tenant, setup = await video_setup(clinic)
    appt = await book(client, clinic, setup, slot(tenant, days=2))
    aid = appt["appointment_id"]
    await status_is(tenant, aid, "ready")
    r = await act(client, clinic, aid, "cancel")
    assert r.status_code == 200, r.text
    await status_is(tenant, aid, "deleted")
    assert room_name(UUID(aid)) not in daily_env.rooms
    assert daily_env.count("DELETE", "/rooms/") == 1


async def test_reschedule_moves_the_rooms_window(
    client: httpx.AsyncClient, clinic: Clinic, daily_env: FakeDaily, jobs_running: JobsRunning
) -> None:
    tenant, setup = await video_setup(clinic)
    appt = await book(client, clinic, setup, slot(tenant, days=2))
    aid = appt["appointment_id"]
    await status_is(tenant, aid, "ready")
    new = slot(tenant, days=6, hour=11)
    version = (await detail(client, clinic, aid))["version"]
    r = await client.post(f"{clinic.api}/appointments/{aid}/reschedule",
                          json={"version": version, "start": new.isoformat()},
                          headers=clinic.headers)  # fmt: skip
    assert r.status_code == 200, r.text

    async def moved() -> bool:
        row = await room_row(tenant, aid)
        return row is not None and row["opens_at"] == new - timedelta(minutes=15)

    await wait_for(moved)
    config = daily_env.rooms[room_name(UUID(aid))]["config"]
    assert config["nbf"] == int(new.timestamp()) - 15 * 60

    async def expiry_follows() -> bool:
        async with tenant_tx(tenant) as conn:
            due = await conn.fetchval(
                "SELECT due_at FROM public.scheduled_jobs WHERE schema_name = $1 AND key = $2",
                tenant.schema,
                f"appointment:{aid}:video.expire",
            )
        row = await room_row(tenant, aid)
        return due is not None and row is not None and due == row["closes_at"]

    await wait_for(expiry_follows)


async def test_in_progress_no_show_and_expiry_through_the_actors(
    client: httpx.AsyncClient, clinic: Clinic, daily_env: FakeDaily, jobs_running: JobsRunning
) -> None:
    """Jobs as the lifecycle writes them (start and no-show need the clock; their SQL
    guards are tested in tests/bookings), handled by the real worker."""
    from carebook.jobs import outbox

    tenant, setup = await video_setup(clinic)
    first = (await book(client, clinic, setup, slot(tenant, days=2)))["appointment_id"]
    second = (await book(client, clinic, setup, slot(tenant, days=3)))["appointment_id"]
    for aid in (first, second):
        await status_is(tenant, aid, "ready")
    async with tenant_tx(tenant) as conn:
        await conn.execute("UPDATE appointments SET status = 'in_progress' WHERE id = $1",
                           UUID(first))  # fmt: skip
        await outbox.enqueue(conn, "video.activate_room",
                             {"appointment_id": first, "event": "in_progress"})  # fmt: skip
        await conn.execute("UPDATE appointments SET status = 'no_show' WHERE id = $1",
                           UUID(second))  # fmt: skip
        await outbox.enqueue(conn, "video.delete_room",
                             {"appointment_id": second, "event": "no_show"})  # fmt: skip
    await status_is(tenant, first, "active")
    await status_is(tenant, second, "deleted")
    assert list(daily_env.rooms) == [room_name(UUID(first))]

    # The scheduled expiry fires early (a stale schedule): nothing happens…
    async with tenant_tx(tenant) as conn:
        await outbox.enqueue(
            conn, "video.delete_room", {"appointment_id": first, "event": "expired"}
        )
    await wait_for(lambda: _runs(tenant, "video.delete_room", 2))
    assert (await room_row(tenant, first))["status"] == "active"  # type: ignore[index]
    # …and once end + grace has passed, the room goes.
    async with tenant_tx(tenant) as conn:
        await conn.execute(
            "UPDATE video_rooms SET closes_at = now() - interval '1 second', "
            "opens_at = now() - interval '1 hour' WHERE appointment_id = $1",
            UUID(first),
        )
        await outbox.enqueue(
            conn, "video.delete_room", {"appointment_id": first, "event": "expired"}
        )
    await status_is(tenant, first, "expired")
    assert not daily_env.rooms
