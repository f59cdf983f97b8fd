"""The appointment lifecycle (appointments spec §1, issue 11): transitions, guards, history,
optimistic concurrency, jobs and events written in the transition's transaction."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, timedelta
from uuid import UUID

import asyncpg
import httpx
import pytest

from carebook.tenancy import tenant_tx
from tests.bookings.lifecycle_support import (
    ACTIONS,
    STAFF_ALLOWED,
    act,
    begin,
    book,
    detail,
    move_to,
    outbox_jobs,
    shift_start,
    staff_member,
    system_upcoming,
)
from tests.bookings.support import bookable, events_of, place_hold, slot
from tests.conftest import Clinic
from tests.forms.support import create_form

CASES = [(state, action) for state in STAFF_ALLOWED for action in ACTIONS]


@pytest.mark.parametrize(("state", "action"), CASES, ids=[f"{s}-{a}" for s, a in CASES])
async def test_transition_table(
    client: httpx.AsyncClient, clinic: Clinic, state: str, action: str
) -> None:
    setup = await bookable(clinic.tenant)
    appt = await book(client, clinic, setup)
    await move_to(client, clinic, appt["appointment_id"], state)
    if action in ("start", "no_show"):
        await begin(clinic, appt["appointment_id"])  # past their time guards
    before = await detail(client, clinic, appt["appointment_id"])
    assert before["status"] == state
    assert sorted(a for a in before["allowed_actions"] if a != "reschedule") == sorted(
        STAFF_ALLOWED[state]
    )

    r = await act(client, clinic, appt["appointment_id"], action, before["version"])

    target = STAFF_ALLOWED[state].get(action)
    if target is None:
        assert r.status_code == 409, r.text
        problem = r.json()
        assert problem["code"] == "invalid_transition"
        assert problem["allowed"] == sorted(STAFF_ALLOWED[state])
        after = await detail(client, clinic, appt["appointment_id"])
        assert (after["status"], after["version"]) == (state, before["version"])
        assert len(after["history"]) == len(before["history"])
        return
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["status"] == target
    assert after["version"] == before["version"] + 1
    last = after["history"][-1]
    assert (last["event"], last["from_status"], last["to_status"]) == ("transition", state, target)
    assert last["actor_kind"] == "staff"
    jobs = await outbox_jobs(clinic.tenant, appt["appointment_id"])
    caused = [j for j in jobs if j["args"]["event"] == target]
    async with tenant_tx(clinic.tenant) as conn:
        # This clinic has no video calendar, no forms and no webhook endpoint: the effects
        # with a condition (only_if) have nothing to do and are not written.
        wanted = await conn.fetch(
            "SELECT actor FROM public.lifecycle_effects WHERE event = $1 AND only_if IS NULL "
            "ORDER BY actor",
            target,
        )
    assert [j["actor"] for j in caused] == [w["actor"] for w in wanted]
    assert all(j["args"]["version"] == after["version"] for j in caused)


async def test_booking_records_history_jobs_and_upcoming_schedule(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant)
    appt = await book(client, clinic, setup)
    body = await detail(client, clinic, appt["appointment_id"])
    assert body["status"] == "booked"
    assert [(h["event"], h["from_status"], h["to_status"], h["actor_kind"])
            for h in body["history"]] == [("booked", "held", "booked", "patient")]  # fmt: skip
    assert body["history"][0]["actor_id"] == body["patient"]["id"]
    actors = sorted(j["actor"] for j in await outbox_jobs(clinic.tenant, appt["appointment_id"]))
    # No video calendar, intake form or webhook endpoint here: only the unconditional jobs.
    assert actors == ["bookings.record_patient", "notifications.booked"]
    async with tenant_tx(clinic.tenant) as conn:
        due = await conn.fetchrow(
            "SELECT due_at, actor FROM public.scheduled_jobs WHERE schema_name = $1 AND key = $2",
            clinic.tenant.schema, f"appointment:{appt['appointment_id']}:upcoming",
        )  # fmt: skip
        start = await conn.fetchval(
            "SELECT starts_at FROM appointments WHERE id = $1", UUID(appt["appointment_id"])
        )
    assert due["actor"] == "bookings.mark_upcoming"
    assert due["due_at"] == start - timedelta(hours=24)


async def test_conditional_effects_are_written_when_they_have_work(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    """lifecycle_effects.only_if: the video, forms and webhooks jobs are written exactly when
    their domain's condition holds for the appointment, on booking and on a transition."""
    setup = await bookable(clinic.tenant)
    intake = await create_form(client, clinic, "Health questionnaire")
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute(
            "UPDATE calendars SET video = true, required_form_ids = ARRAY[$2::uuid] WHERE id = $1",
            setup.calendar_id, UUID(intake["id"]),
        )  # fmt: skip
        endpoint = await conn.fetchval(
            "INSERT INTO webhook_endpoints (url, secret, events) "
            "VALUES ('https://hooks.example.test/in', 'whsec_x', '{*}') RETURNING id"
        )
    first = await book(client, clinic, setup)
    actors = sorted(j["actor"] for j in await outbox_jobs(clinic.tenant, first["appointment_id"]))
    assert actors == ["bookings.record_patient", "forms.generate_intake", "notifications.booked",
                      "notifications.webhooks", "video.create_room"]  # fmt: skip

    # The other events' conditions, asked directly: a video calendar's appointment without a
    # room yet is moved and started like one with a room; 'done' writes the forms job once
    # the clinic has a live post-appointment form.
    async def wanted(condition: str, event: str) -> bool:
        async with tenant_tx(clinic.tenant) as conn:
            result: bool = await conn.fetchval(
                f"SELECT public.{condition}($1, $2)", UUID(first["appointment_id"]), event
            )
        return result

    assert await wanted("video_effect_wanted", "rescheduled")
    assert await wanted("video_effect_wanted", "in_progress")
    assert not await wanted("forms_effect_wanted", "done")
    await create_form(client, clinic, "Visit report", "post_appointment")
    assert await wanted("forms_effect_wanted", "done")

    # The endpoint paused and the calendar no longer video, no forms required: the next
    # booking writes only the unconditional jobs...
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute("UPDATE webhook_endpoints SET active = false WHERE id = $1", endpoint)
        await conn.execute(
            "UPDATE calendars SET video = false, required_form_ids = '{}' WHERE id = $1",
            setup.calendar_id,
        )
    second = await book(client, clinic, setup, start=slot(clinic.tenant, days=4))
    actors = sorted(j["actor"] for j in await outbox_jobs(clinic.tenant, second["appointment_id"]))
    assert actors == ["bookings.record_patient", "notifications.booked"]

    # ...while the first appointment, which has a video room, still gets its room deleted
    # when it is cancelled.
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute(
            "INSERT INTO video_rooms (appointment_id, provider, room_name, opens_at, closes_at) "
            "SELECT id, 'builtin', 'room-' || id, starts_at, ends_at FROM appointments "
            "WHERE id = $1",
            UUID(first["appointment_id"]),
        )
    r = await act(client, clinic, first["appointment_id"], "cancel", reason="test")
    assert r.status_code == 200, r.text
    cancelled = [j["actor"] for j in await outbox_jobs(clinic.tenant, first["appointment_id"])
                 if j["args"]["event"] == "cancelled"]  # fmt: skip
    assert sorted(cancelled) == ["notifications.cancelled", "video.delete_room"]


async def test_history_is_append_only(client: httpx.AsyncClient, clinic: Clinic) -> None:
    setup = await bookable(clinic.tenant)
    appt = await book(client, clinic, setup)
    statements = [
        "UPDATE appointment_history SET reason = 'rewritten'",
        "DELETE FROM appointment_history",
        "TRUNCATE appointment_history",
    ]
    for statement in statements:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            async with tenant_tx(clinic.tenant) as conn:
                await conn.execute(statement)
    assert len((await detail(client, clinic, appt["appointment_id"]))["history"]) == 1


async def test_fifty_concurrent_transitions_exactly_one_wins(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant)
    appt = await book(client, clinic, setup)
    await system_upcoming(clinic.tenant, appt["appointment_id"])
    version = (await detail(client, clinic, appt["appointment_id"]))["version"]
    actions = ["confirm", "cancel"] * 25
    results = await asyncio.gather(
        *(act(client, clinic, appt["appointment_id"], a, version) for a in actions)
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [409] * 49, codes
    assert {r.json()["code"] for r in results if r.status_code == 409} == {"version_conflict"}
    after = await detail(client, clinic, appt["appointment_id"])
    assert after["version"] == version + 1
    assert len([h for h in after["history"] if h["event"] == "transition"]) == 2  # upcoming + 1


async def test_time_guards(client: httpx.AsyncClient, clinic: Clinic) -> None:
    setup = await bookable(clinic.tenant)
    appt = await book(client, clinic, setup)
    aid = appt["appointment_id"]
    await move_to(client, clinic, aid, "confirmed")
    r = await act(client, clinic, aid, "start")
    assert r.status_code == 409 and r.json()["code"] == "too_early", r.text
    assert "not_before" in r.json()
    r = await act(client, clinic, aid, "no_show")
    assert r.status_code == 409 and r.json()["code"] == "too_early", r.text
    # 10 minutes before the start, starting is allowed (from 15 min before).
    async with tenant_tx(clinic.tenant) as conn:
        start = await conn.fetchval("SELECT starts_at FROM appointments WHERE id = $1", UUID(aid))
    await shift_start(clinic.tenant, aid, (start.now(start.tzinfo) + timedelta(minutes=10)) - start)
    r = await act(client, clinic, aid, "start")
    assert r.status_code == 200, r.text


async def test_cancel_frees_the_slot_at_once_and_publishes(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant)
    start = slot(clinic.tenant, days=2, hour=11)
    appt = await book(client, clinic, setup, start)
    r = await act(client, clinic, appt["appointment_id"], "cancel", reason="Doctor ill")
    assert r.status_code == 200, r.text
    assert r.json()["history"][-1]["reason"] == "Doctor ill"
    released = await events_of(clinic.tenant, "slot.released")
    assert {"start": start.astimezone(UTC).isoformat(), "specialist_id": str(setup.specialist_id)
            }.items() <= released[-1].items()  # fmt: skip
    changed = await events_of(clinic.tenant, "appointment.changed")
    assert changed[-1]["status"] == "cancelled"
    assert set(changed[-1]) == {"appointment_id", "status", "version", "calendar_id",
                                "specialist_id", "start", "end"}  # fmt: skip
    async with tenant_tx(clinic.tenant) as conn:
        pending = await conn.fetchval(
            "SELECT count(*) FROM public.scheduled_jobs WHERE schema_name = $1 AND key LIKE $2",
            clinic.tenant.schema, f"appointment:{appt['appointment_id']}:%",
        )  # fmt: skip
    assert pending == 0
    again = await place_hold(client, clinic.public, setup, start)
    assert again["specialist_id"] == str(setup.specialist_id)


async def test_bad_input_leaves_state_unchanged(client: httpx.AsyncClient, clinic: Clinic) -> None:
    setup = await bookable(clinic.tenant)
    appt = await book(client, clinic, setup)
    aid = appt["appointment_id"]
    await system_upcoming(clinic.tenant, aid)
    before = await detail(client, clinic, aid)
    url = f"{clinic.api}/appointments/{aid}/transitions"

    cases = [
        (f"{clinic.api}/appointments/{UUID(int=7)}/transitions",
         {"action": "confirm", "version": 1}, 404, "appointment_not_found"),
        (url, {"action": "confirm", "version": before["version"] - 1}, 409, "version_conflict"),
        (url, {"action": "cancel", "version": before["version"], "reason": "x" * 501}, 422,
         "validation_failed"),
        (url, {"action": "cancel", "version": before["version"], "reason": "   "}, 422,
         "reason_required"),
        (url, {"action": "teleport", "version": before["version"]}, 422, "invalid_action"),
        (url, {"action": "confirm"}, 422, "validation_failed"),
    ]  # fmt: skip
    for target, body, status, code in cases:
        r = await client.post(target, json=body, headers=clinic.headers)
        assert r.status_code == status, (body, r.text)
        assert r.json()["code"] == code, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    after = await detail(client, clinic, aid)
    assert (after["status"], after["version"], after["history"]) == (
        before["status"], before["version"], before["history"],
    )  # fmt: skip
    r = await client.get(f"{clinic.api}/appointments/{UUID(int=7)}", headers=clinic.headers)
    assert r.status_code == 404 and r.json()["code"] == "appointment_not_found"


async def test_specialist_acts_only_on_own_appointments(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    mine = await bookable(clinic.tenant)
    other = await bookable(clinic.tenant)
    staff_id, headers = await staff_member(clinic, "specialist", "spec@own.test")
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute(
            "UPDATE specialists SET staff_user = $1 WHERE id = $2", staff_id, mine.specialist_id
        )
    own = await book(client, clinic, mine, email="a@x.test")
    foreign = await book(client, clinic, other, email="b@x.test")
    for appt in (own, foreign):
        await system_upcoming(clinic.tenant, appt["appointment_id"])

    r = await act(
        client,
        clinic,
        foreign["appointment_id"],
        "confirm",
        headers=headers,
        version=(await detail(client, clinic, foreign["appointment_id"]))["version"],
    )
    # As absent as a missing one: the write does not tell that it exists.
    assert r.status_code == 404 and r.json()["code"] == "appointment_not_found", r.text
    r = await client.get(f"{clinic.api}/appointments/{foreign['appointment_id']}", headers=headers)
    assert r.status_code == 404 and r.json()["code"] == "appointment_not_found", r.text
    assert (await detail(client, clinic, foreign["appointment_id"]))["status"] == "upcoming"

    r = await act(
        client,
        clinic,
        own["appointment_id"],
        "confirm",
        headers=headers,
        version=(await detail(client, clinic, own["appointment_id"]))["version"],
    )
    assert r.status_code == 200, r.text
    last = r.json()["history"][-1]
    assert (last["actor_kind"], last["actor_id"]) == ("specialist", str(staff_id))


async def test_receptionist_acts_on_every_appointment(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant)
    appt = await book(client, clinic, setup)
    staff_id, headers = await staff_member(clinic, "receptionist", "desk@clinic.test")
    r = await act(
        client,
        clinic,
        appt["appointment_id"],
        "cancel",
        headers=headers,
        version=(await detail(client, clinic, appt["appointment_id"]))["version"],
    )
    assert r.status_code == 200, r.text
    assert r.json()["history"][-1]["actor_id"] == str(staff_id)


async def test_another_clinics_appointment_is_not_found(
    client: httpx.AsyncClient, make_clinic, clinic: Clinic
) -> None:
    other = await make_clinic()
    setup = await bookable(other.tenant)
    appt = await book(client, other, setup)
    r = await act(client, clinic, appt["appointment_id"], "cancel", version=2)
    assert r.status_code == 404
    r = await client.get(f"{clinic.api}/appointments/{appt['appointment_id']}",
                         headers=clinic.headers)  # fmt: skip
    assert r.status_code == 404
    assert (await detail(client, other, appt["appointment_id"]))["status"] == "booked"


async def test_patient_cancels_with_manage_link_until_cutoff(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant)
    appt = await book(client, clinic, setup)
    aid = appt["appointment_id"]
    url = f"{clinic.public}/appointments/{aid}/cancel"
    version = (await detail(client, clinic, aid))["version"]
    r = await client.post(url, json={"version": version, "reason": "Feeling better"},
                          headers={"X-Manage-Token": "cbm_wrong"})  # fmt: skip
    assert r.status_code == 404
    # Inside the cutoff (24 h by default): refused, state unchanged.
    async with tenant_tx(clinic.tenant) as conn:
        start = await conn.fetchval("SELECT starts_at FROM appointments WHERE id = $1", UUID(aid))
    await shift_start(clinic.tenant, aid, start.now(start.tzinfo) + timedelta(hours=5) - start)
    token = {"X-Manage-Token": appt["manage_token"]}
    r = await client.post(url, json={"version": version, "reason": "Busy"}, headers=token)
    assert r.status_code == 409 and r.json()["code"] == "cancellation_cutoff_passed", r.text
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute(
            "UPDATE public.tenants SET settings = settings || '{\"cancellation_cutoff_hours\": 2}' "
            "WHERE schema_name = $1",
            clinic.tenant.schema,
        )
    r = await client.post(url, json={"version": version, "reason": "Busy"}, headers=token)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    history = (await detail(client, clinic, aid))["history"]
    assert (history[-1]["actor_kind"], history[-1]["reason"]) == ("patient", "Busy")


async def test_staff_books_for_a_caller(client: httpx.AsyncClient, clinic: Clinic) -> None:
    setup = await bookable(clinic.tenant)
    staff_id, headers = await staff_member(clinic, "receptionist", "phone@clinic.test")
    start = slot(clinic.tenant, days=4, hour=9)
    body = {
        "calendar_id": str(setup.calendar_id),
        "start": start.isoformat(),
        "patient": {"name": "Caller One", "email": "caller@example.test",
                    "timezone": "Europe/Berlin", "phone": "+49 30 1234567"},
    }  # fmt: skip
    key = {"Idempotency-Key": "phone-call-1"}
    r = await client.post(f"{clinic.api}/appointments", json=body, headers={**headers, **key})
    assert r.status_code == 201, r.text
    appt = r.json()
    assert appt["status"] == "booked" and "token=cbm_" in appt["manage_url"]
    history = (await detail(client, clinic, appt["appointment_id"]))["history"]
    assert (history[0]["actor_kind"], history[0]["actor_id"]) == ("staff", str(staff_id))
    # Same rules as the public path: the slot is taken now, and a retry books nothing more.
    r = await client.post(f"{clinic.api}/appointments", json=body, headers={**headers, **key})
    assert r.status_code == 409 and r.json()["code"] == "already_booked", r.text
    r = await client.post(f"{clinic.api}/appointments", json=body, headers=headers)
    assert r.status_code == 400 and r.json()["code"] == "idempotency_key_required", r.text
    another = {**headers, "Idempotency-Key": "phone-call-2"}
    r = await client.post(f"{clinic.api}/appointments", json=body, headers=another)
    assert r.status_code == 409 and r.json()["code"] == "slot_unavailable", r.text
    off_grid = {**body, "start": (start + timedelta(minutes=7)).isoformat()}
    r = await client.post(f"{clinic.api}/appointments", json=off_grid,
                          headers={**headers, "Idempotency-Key": "phone-call-3"})  # fmt: skip
    assert r.status_code == 422 and r.json()["code"] == "invalid_slot", r.text
    async with tenant_tx(clinic.tenant) as conn:
        held = await conn.fetchval("SELECT count(*) FROM appointments WHERE status = 'held'")
    assert held == 0


async def test_appointment_changed_never_reaches_public_data_keys(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant)
    await book(client, clinic, setup)
    async with tenant_tx(clinic.tenant) as conn:
        rows = await conn.fetch("SELECT data FROM events WHERE type = 'appointment.changed'")
    data = [json.loads(r["data"]) for r in rows]
    assert data and all("patient" not in json.dumps(d) for d in data)
