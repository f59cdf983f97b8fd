"""The expired-hold sweeper: releases due holds within 2 s, cooperates across processes."""

from __future__ import annotations

import asyncio
import time
from uuid import UUID

import httpx

from bookings import sweeper
from carebook.tenancy import platform_tx, tenant_tx
from tests.bookings.support import (
    backdate_hold,
    bookable,
    events_of,
    fetch_appointment,
    place_hold,
    slot,
)
from tests.conftest import Clinic, LiveServer


async def _hint_count(hold_id: str) -> int:
    async with platform_tx() as conn:
        n: int = await conn.fetchval(
            "SELECT count(*) FROM public.hold_expiries WHERE appointment_id = $1", UUID(hold_id)
        )
    return n


async def test_hold_writes_an_expiry_hint(client: httpx.AsyncClient, clinic: Clinic) -> None:
    setup = await bookable(clinic.tenant)
    hold = await place_hold(client, clinic.public, setup, slot(clinic.tenant))
    async with platform_tx() as conn:
        row = await conn.fetchrow(
            "SELECT schema_name, expires_at FROM public.hold_expiries WHERE appointment_id = $1",
            UUID(hold["hold_id"]),
        )
    assert row["schema_name"] == clinic.tenant.schema
    assert (
        row["expires_at"]
        == (await fetch_appointment(clinic.tenant, hold["hold_id"]))["hold_expires_at"]
    )


async def test_sweeper_releases_within_two_seconds(live_server: LiveServer, clinic: Clinic) -> None:
    # Through a real app process: its own sweeper task must notice the expiry.
    setup = await bookable(clinic.tenant)
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        hold = await place_hold(http, clinic.public, setup, slot(clinic.tenant))
    await backdate_hold(clinic.tenant, hold["hold_id"])
    expired_at = time.monotonic()
    while (await fetch_appointment(clinic.tenant, hold["hold_id"]))["status"] == "held":
        assert time.monotonic() - expired_at < 2.0, "not released within 2 s"
        await asyncio.sleep(0.05)
    [released] = await events_of(clinic.tenant, "slot.released")
    assert released["specialist_id"] == str(setup.specialist_id)
    assert await _hint_count(hold["hold_id"]) == 0


async def test_concurrent_sweeps_release_each_hold_once(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant)
    holds = [
        await place_hold(client, clinic.public, setup, slot(clinic.tenant, hour=h))
        for h in range(9, 15)
    ]
    for hold in holds:
        await backdate_hold(clinic.tenant, hold["hold_id"])
    await asyncio.gather(*(sweeper.sweep_once() for _ in range(4)))
    for hold in holds:
        assert (await fetch_appointment(clinic.tenant, hold["hold_id"]))["status"] == "expired"
        assert await _hint_count(hold["hold_id"]) == 0
    assert len(await events_of(clinic.tenant, "slot.released")) == len(holds)


async def test_hints_of_booked_or_released_holds_are_dropped_quietly(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant)
    hold = await place_hold(client, clinic.public, setup, slot(clinic.tenant))
    await client.delete(
        f"{clinic.public}/holds/{hold['hold_id']}", headers={"X-Hold-Token": hold["token"]}
    )
    await backdate_hold(clinic.tenant, hold["hold_id"])
    await sweeper.sweep_once()
    assert (await fetch_appointment(clinic.tenant, hold["hold_id"]))["status"] == "released"
    assert await _hint_count(hold["hold_id"]) == 0
    assert len(await events_of(clinic.tenant, "slot.released")) == 1  # from the DELETE only


async def test_sweeper_task_starts_and_stops_cleanly() -> None:
    was_running = sweeper._task is not None  # the in-process app's sweeper, if started
    await sweeper.start_sweeper()
    task = sweeper._task
    assert task is not None and not task.done()
    await sweeper.start_sweeper()  # idempotent: still one task
    assert sweeper._task is task
    await sweeper.stop_sweeper()
    assert task.done() and sweeper._task is None
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "hold-sweeper"]
    await sweeper.stop_sweeper()  # stopping twice is harmless
    if was_running:
        await sweeper.start_sweeper()


async def test_due_clinics_come_from_the_hint_table_only(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant)
    hold = await place_hold(client, clinic.public, setup, slot(clinic.tenant))
    assert clinic.tenant.schema not in await sweeper.due_schemas(limit=10_000)
    await backdate_hold(clinic.tenant, hold["hold_id"])
    async with tenant_tx(clinic.tenant) as conn:  # nothing else due in this clinic
        assert await conn.fetchval("SELECT count(*) FROM appointments WHERE status = 'held'") == 1
    due = await sweeper.due_schemas(limit=10_000)
    assert clinic.tenant.schema in due or (
        (await fetch_appointment(clinic.tenant, hold["hold_id"]))["status"] == "expired"
    )


async def test_sweep_purges_day_old_idempotency_keys(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    # book_hold() no longer purges on every booking: the sweep of the clinic does.
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute(
            "INSERT INTO idempotency_keys (key, request_hash, created_at) VALUES "
            "('old', '\\x00', now() - interval '25 hours'), "
            "('fresh', '\\x00', now() - interval '23 hours')"
        )
    setup = await bookable(clinic.tenant)
    hold = await place_hold(client, clinic.public, setup, slot(clinic.tenant))
    await backdate_hold(clinic.tenant, hold["hold_id"])
    await sweeper.sweep_once()
    async with tenant_tx(clinic.tenant) as conn:
        keys = await conn.fetch("SELECT key FROM idempotency_keys ORDER BY key")
    assert [k["key"] for k in keys] == ["fresh"]
