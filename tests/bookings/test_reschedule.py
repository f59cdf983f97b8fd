"""Rescheduling (issue 11): atomic, identity-keeping, race-safe, by staff and by patients."""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta
from typing import Any

import httpx
import pytest

from carebook.tenancy import tenant_tx
from tests.bookings.lifecycle_support import book, detail, move_to, outbox_jobs
from tests.bookings.support import bookable, events_of, place_hold, slot
from tests.conftest import Clinic


async def _reschedule(
    client: httpx.AsyncClient, clinic: Clinic, aid: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(f"{clinic.api}/appointments/{aid}/reschedule", json=body,
                             headers=clinic.headers)  # fmt: skip


async def test_reschedule_moves_the_appointment_and_keeps_its_identity(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant)
    old, new = slot(clinic.tenant, days=3, hour=10), slot(clinic.tenant, days=4, hour=14)
    appt = await book(client, clinic, setup, old)
    aid = appt["appointment_id"]
    await move_to(client, clinic, aid, "confirmed")
    before = await detail(client, clinic, aid)

    r = await _reschedule(
        client,
        clinic,
        aid,
        {"version": before["version"], "start": new.isoformat(), "reason": "Clash"},
    )
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["id"] == aid and after["status"] == "booked"
    assert after["version"] == before["version"] + 1
    assert after["start"] == new.isoformat()
    assert after["history"][:-1] == before["history"]
    last = after["history"][-1]
    assert (last["event"], last["from_status"], last["to_status"], last["reason"]) == (
        "rescheduled", "confirmed", "booked", "Clash",
    )  # fmt: skip
    assert last["details"]["to_start"] == new.astimezone(UTC).isoformat()
    # The manage link still works and shows the new time.
    page = await client.get(f"/c/{clinic.slug}/manage/{aid}?token={appt['manage_token']}")
    assert page.status_code == 200
    # Old slot free at once, new one taken; events and jobs written with the move.
    await place_hold(client, clinic.public, setup, old)
    r = await client.post(
        f"{clinic.public}/holds",
        json={"calendar_id": str(setup.calendar_id), "start": new.isoformat()},
    )
    assert r.status_code == 409
    assert (await events_of(clinic.tenant, "slot.released"))[-1]["start"] == old.astimezone(
        UTC).isoformat()  # fmt: skip
    async with tenant_tx(clinic.tenant) as conn:
        # No video room and no webhook endpoint at this clinic: the conditional effects
        # (only_if) are not written.
        wanted = [r["actor"] for r in await conn.fetch(
            "SELECT actor FROM public.lifecycle_effects WHERE event = 'rescheduled' "
            "AND only_if IS NULL ORDER BY actor"
        )]  # fmt: skip
    assert "notifications.rescheduled" in wanted and "video.move_room" not in wanted
    assert [j["actor"] for j in await outbox_jobs(clinic.tenant, aid)
            if j["args"]["event"] == "rescheduled"] == wanted  # fmt: skip


@pytest.mark.parametrize("target", ["taken", "off_grid", "stale_version", "done"])
async def test_failed_reschedule_changes_nothing(
    client: httpx.AsyncClient, clinic: Clinic, target: str
) -> None:
    setup = await bookable(clinic.tenant)
    appt = await book(client, clinic, setup, slot(clinic.tenant, days=3, hour=10))
    aid = appt["appointment_id"]
    other_start = slot(clinic.tenant, days=3, hour=12)
    await book(client, clinic, setup, other_start, email="other@x.test")
    if target == "done":
        await move_to(client, clinic, aid, "done")
    before = await detail(client, clinic, aid)
    body = {"version": before["version"], "start": slot(clinic.tenant, 4, 9).isoformat()}
    expected = {"taken": (409, "slot_unavailable"), "off_grid": (422, "invalid_slot"),
                "stale_version": (409, "version_conflict"),
                "done": (409, "invalid_transition")}[target]  # fmt: skip
    if target == "taken":
        body["start"] = other_start.isoformat()
    elif target == "off_grid":
        body["start"] = (other_start + timedelta(minutes=5)).isoformat()
    elif target == "stale_version":
        body["version"] -= 1
    r = await _reschedule(client, clinic, aid, body)
    assert (r.status_code, r.json()["code"]) == expected, r.text
    after = await detail(client, clinic, aid)
    assert after == before


@pytest.mark.slow
async def test_fifty_reschedules_onto_one_free_slot_exactly_one_wins(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant, duration=10)
    appointments = []
    for i in range(50):
        day, minute = divmod(i, 40)
        start = slot(clinic.tenant, days=3 + day, hour=9) + timedelta(minutes=10 * minute)
        appointments.append(await book(client, clinic, setup, start, email=f"p{i}@x.test"))
    target = slot(clinic.tenant, days=6, hour=15)
    befores = [await detail(client, clinic, a["appointment_id"]) for a in appointments]
    results = await asyncio.gather(*(
        _reschedule(client, clinic, b["id"], {"version": b["version"], "start": target.isoformat()})
        for b in befores
    ))  # fmt: skip
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [409] * 49, [r.text for r in results if r.status_code >= 500]
    assert {r.json()["code"] for r in results if r.status_code == 409} == {"slot_unavailable"}
    for before, result in zip(befores, results, strict=True):
        if result.status_code == 409:
            assert await detail(client, clinic, before["id"]) == before
    async with tenant_tx(clinic.tenant) as conn:
        at_target = await conn.fetchval(
            "SELECT count(*) FROM appointments WHERE starts_at = $1 AND status = 'booked'", target
        )
    assert at_target == 1


async def test_patient_reschedules_with_the_manage_link(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant)
    appt = await book(client, clinic, setup, slot(clinic.tenant, days=3, hour=10))
    aid = appt["appointment_id"]
    version = (await detail(client, clinic, aid))["version"]
    new = slot(clinic.tenant, days=5, hour=11)
    url = f"{clinic.public}/appointments/{aid}/reschedule"
    r = await client.post(url, json={"version": version, "start": new.isoformat()})
    assert r.status_code == 404  # no token
    r = await client.post(url, json={"version": version, "start": new.isoformat()},
                          headers={"X-Manage-Token": appt["manage_token"]})  # fmt: skip
    assert r.status_code == 200, r.text
    after = await detail(client, clinic, aid)
    assert after["start"] == new.isoformat()
    assert after["history"][-1]["actor_kind"] == "patient"
