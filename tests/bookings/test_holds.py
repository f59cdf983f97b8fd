"""Holding and releasing slots: status codes, auto-pick, session swap, expiry, tokens."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import httpx

from carebook.tenancy import tenant_tx
from carebook.tokens import token_digest
from tests.bookings.support import (
    backdate_hold,
    bookable,
    events_of,
    fetch_appointment,
    hold_body,
    place_hold,
    slot,
)
from tests.conftest import Clinic
from tests.factories import add_calendar, add_specialist
from tests.helpers import problem


async def test_hold_returns_the_slot_and_its_expiry(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant)
    start = slot(clinic.tenant)
    before = datetime.now().astimezone()
    hold = await place_hold(client, clinic.public, setup, start)
    assert UUID(hold["hold_id"])
    assert hold["specialist_id"] == str(setup.specialist_id)
    assert datetime.fromisoformat(hold["start"]) == start
    assert datetime.fromisoformat(hold["end"]) == start + timedelta(minutes=30)
    assert hold["start"].endswith("+01:00") or hold["start"].endswith("+02:00")  # input offset
    expires = datetime.fromisoformat(hold["expires_at"])
    assert timedelta(minutes=9) < expires - before <= timedelta(minutes=10, seconds=5)
    row = await fetch_appointment(clinic.tenant, hold["hold_id"])
    assert row["status"] == "held"
    assert row["blocking"].lower == start and row["blocking"].upper == start + timedelta(minutes=30)
    [held] = await events_of(clinic.tenant, "slot.held")
    assert held["specialist_id"] == str(setup.specialist_id)
    assert held["calendar_id"] == str(setup.calendar_id)
    assert held["buffer_minutes"] == 0
    assert datetime.fromisoformat(held["end"]) == start + timedelta(minutes=30)
    assert set(held) == {"specialist_id", "calendar_id", "start", "end", "buffer_minutes"}
    assert datetime.fromisoformat(held["start"]) == start


async def test_slot_held_payload_is_publish_slot_events(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    """hold_slot() builds slot.held itself (a cached plan); book_hold() uses
    publish_slot_event(): the two payloads must not drift apart."""
    setup = await bookable(clinic.tenant, buffer=10)
    start = slot(clinic.tenant)
    await place_hold(client, clinic.public, setup, start)
    [held] = await events_of(clinic.tenant, "slot.held")
    async with tenant_tx(clinic.tenant) as conn:
        eid = await conn.fetchval(
            "SELECT publish_slot_event('slot.held', $1, $2, $3, $4, 10)",
            setup.calendar_id, setup.specialist_id, start, start + timedelta(minutes=30),
        )  # fmt: skip
        twin = json.loads(await conn.fetchval("SELECT data FROM events WHERE id = $1", eid))
    assert held == twin


async def test_hold_minutes_come_from_clinic_settings(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute(
            "UPDATE public.tenants SET settings = settings || $2::jsonb WHERE id = $1",
            clinic.tenant.id,
            '{"hold_minutes": 3}',
        )
    setup = await bookable(clinic.tenant)
    hold = await place_hold(client, clinic.public, setup, slot(clinic.tenant))
    left = datetime.fromisoformat(hold["expires_at"]) - datetime.now().astimezone()
    assert timedelta(minutes=2) < left <= timedelta(minutes=3)


async def test_taken_slot_is_409_and_non_slot_is_422(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant)
    start = slot(clinic.tenant)
    await place_hold(client, clinic.public, setup, start)
    again = await client.post(f"{clinic.public}/holds", json=hold_body(setup, start))
    problem(again, 409, "slot_unavailable")
    for not_a_slot in (
        slot(clinic.tenant, minute=10),  # off the grid
        slot(clinic.tenant, hour=20),  # outside working hours
        slot(clinic.tenant, days=-1),  # in the past (notice)
        slot(clinic.tenant, days=90),  # beyond the horizon
    ):
        r = await client.post(f"{clinic.public}/holds", json=hold_body(setup, not_a_slot))
        body = problem(r, 422, "invalid_slot")
        assert body["errors"][0]["field"] == "start"


async def test_notice_period_and_closed_day_are_422(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant, notice=3 * 24 * 60)
    r = await client.post(f"{clinic.public}/holds", json=hold_body(setup, slot(clinic.tenant)))
    problem(r, 422, "invalid_slot")
    open_setup = await bookable(clinic.tenant)
    day = slot(clinic.tenant, days=2).date()
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute(
            "INSERT INTO closures (dates, reason) VALUES (daterange($1, $1, '[]'), 'holiday')", day
        )
    r = await client.post(
        f"{clinic.public}/holds", json=hold_body(open_setup, slot(clinic.tenant, days=2))
    )
    problem(r, 422, "invalid_slot")


async def test_specialist_choice(client: httpx.AsyncClient, clinic: Clinic) -> None:
    busy = await add_specialist(clinic.tenant, name="A busy")
    idle = await add_specialist(clinic.tenant, name="B idle")
    outsider = await add_specialist(clinic.tenant, name="C outsider")
    cal = await add_calendar(clinic.tenant, [busy, idle])
    body = {"calendar_id": str(cal["id"])}
    # "A busy" sorts first, so a tie picks it; after that it has more that day: "B idle" next.
    r1 = await client.post(
        f"{clinic.public}/holds", json={**body, "start": slot(clinic.tenant, hour=9).isoformat()}
    )
    assert r1.status_code == 201 and r1.json()["specialist_id"] == str(busy)
    r2 = await client.post(
        f"{clinic.public}/holds", json={**body, "start": slot(clinic.tenant, hour=14).isoformat()}
    )
    assert r2.status_code == 201 and r2.json()["specialist_id"] == str(idle)
    # Named specialist: taken → 409; not on this calendar → 422; unknown → 404.
    at9 = {**body, "start": slot(clinic.tenant, hour=9).isoformat()}
    problem(
        await client.post(f"{clinic.public}/holds", json={**at9, "specialist_id": str(busy)}),
        409,
        "slot_unavailable",
    )
    r3 = await client.post(f"{clinic.public}/holds", json={**at9, "specialist_id": str(idle)})
    assert r3.status_code == 201 and r3.json()["specialist_id"] == str(idle)
    problem(
        await client.post(f"{clinic.public}/holds", json={**at9, "specialist_id": str(outsider)}),
        422,
        "invalid_slot",
    )
    problem(
        await client.post(f"{clinic.public}/holds", json={**at9, "specialist_id": str(uuid4())}),
        404,
        "specialist_not_found",
    )
    # Both taken at 09:00 now: without a specialist it is a 409, not a 422.
    problem(await client.post(f"{clinic.public}/holds", json=at9), 409, "slot_unavailable")


async def test_unknown_and_inactive_calendar_are_404(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    r = await client.post(
        f"{clinic.public}/holds",
        json={"calendar_id": str(uuid4()), "start": slot(clinic.tenant).isoformat()},
    )
    problem(r, 404, "calendar_not_found")
    setup = await bookable(clinic.tenant, active=False)
    r = await client.post(f"{clinic.public}/holds", json=hold_body(setup, slot(clinic.tenant)))
    problem(r, 404, "calendar_not_found")
    problem(
        await client.post(
            "/api/v1/clinics/nosuchclinic/public/holds", json=hold_body(setup, slot(clinic.tenant))
        ),
        404,
    )


async def test_expired_hold_never_blocks(client: httpx.AsyncClient, clinic: Clinic) -> None:
    setup = await bookable(clinic.tenant)
    start = slot(clinic.tenant)
    old = await place_hold(client, clinic.public, setup, start)
    await backdate_hold(clinic.tenant, old["hold_id"])
    new = await place_hold(client, clinic.public, setup, start)
    assert new["hold_id"] != old["hold_id"]
    assert (await fetch_appointment(clinic.tenant, old["hold_id"]))["status"] == "expired"
    released = await events_of(clinic.tenant, "slot.released")
    assert [datetime.fromisoformat(e["start"]) for e in released] == [start]


async def test_expired_hold_with_buffer_does_not_block_neighbour(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant, buffer=15)
    old = await place_hold(client, clinic.public, setup, slot(clinic.tenant, minute=0))
    problem(
        await client.post(
            f"{clinic.public}/holds", json=hold_body(setup, slot(clinic.tenant, minute=30))
        ),
        409,
        "slot_unavailable",
    )
    await backdate_hold(clinic.tenant, old["hold_id"])
    await place_hold(client, clinic.public, setup, slot(clinic.tenant, minute=30))


async def test_released_hold_frees_the_slot_at_once(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant)
    start = slot(clinic.tenant)
    hold = await place_hold(client, clinic.public, setup, start)
    url = f"{clinic.public}/holds/{hold['hold_id']}"
    problem(await client.delete(url), 401, "hold_token_required")
    problem(
        await client.delete(url, headers={"X-Hold-Token": "cbh_wrong"}), 403, "invalid_hold_token"
    )
    problem(
        await client.delete(
            f"{clinic.public}/holds/{uuid4()}", headers={"X-Hold-Token": hold["token"]}
        ),
        404,
        "hold_not_found",
    )
    r = await client.delete(url, headers={"X-Hold-Token": hold["token"]})
    assert r.status_code == 204, r.text
    assert (await fetch_appointment(clinic.tenant, hold["hold_id"]))["status"] == "released"
    assert len(await events_of(clinic.tenant, "slot.released")) == 1
    await place_hold(client, clinic.public, setup, start)
    # Releasing twice is harmless and publishes nothing more.
    assert (await client.delete(url, headers={"X-Hold-Token": hold["token"]})).status_code == 204
    assert len(await events_of(clinic.tenant, "slot.released")) == 1


async def test_session_key_swap_releases_the_previous_hold(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant)
    key = {"session_key": "tab-" + uuid4().hex}
    first = await place_hold(client, clinic.public, setup, slot(clinic.tenant, hour=9), **key)
    second = await place_hold(client, clinic.public, setup, slot(clinic.tenant, hour=10), **key)
    assert (await fetch_appointment(clinic.tenant, first["hold_id"]))["status"] == "released"
    assert (await fetch_appointment(clinic.tenant, second["hold_id"]))["status"] == "held"
    # The slot the session let go of is free for anyone at once.
    await place_hold(client, clinic.public, setup, slot(clinic.tenant, hour=9))
    # Re-holding the same slot from the same session works too (release, then hold).
    third = await place_hold(client, clinic.public, setup, slot(clinic.tenant, hour=10), **key)
    assert (await fetch_appointment(clinic.tenant, second["hold_id"]))["status"] == "released"
    assert (await fetch_appointment(clinic.tenant, third["hold_id"]))["status"] == "held"
    released = await events_of(clinic.tenant, "slot.released")
    assert len(released) == 2


async def test_concurrent_holds_of_one_session_leave_exactly_one(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    """Holds of one session_key placed at once: each one that succeeds releases the one
    before, so exactly one survives and every superseded hold got its slot.released."""
    setup = await bookable(clinic.tenant)
    key = "tab-" + uuid4().hex
    bodies = [hold_body(setup, slot(clinic.tenant, hour=h), session_key=key) for h in range(9, 17)]
    answers = await asyncio.gather(*(client.post(f"{clinic.public}/holds", json=b) for b in bodies))
    held = [r for r in answers if r.status_code == 201]
    for r in answers:
        if r.status_code != 201:
            problem(r, 409, "session_busy")
    assert held
    async with tenant_tx(clinic.tenant) as conn:
        live = await conn.fetchval(
            "SELECT count(*) FROM appointments WHERE session_key = $1 AND status = 'held'", key
        )
    assert live == 1
    assert len(await events_of(clinic.tenant, "slot.released")) == len(held) - 1


async def test_hold_tokens_are_random_and_hashed_at_rest(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant)
    tokens = [
        (await place_hold(client, clinic.public, setup, slot(clinic.tenant, hour=h)))["token"]
        for h in (9, 10, 11)
    ]
    assert len(set(tokens)) == 3
    for token in tokens:
        prefix, _, secret = token.partition("_")
        assert prefix == "cbh"
        assert len(base64.urlsafe_b64decode(secret + "==")) * 8 >= 128
    async with tenant_tx(clinic.tenant) as conn:
        rows = await conn.fetch(
            "SELECT to_jsonb(a)::text AS doc, hold_token_hash FROM appointments a"
        )
    dump = " ".join(r["doc"] for r in rows)
    assert not any(t in dump or t.split("_", 1)[1] in dump for t in tokens)
    assert {bytes(r["hold_token_hash"]) for r in rows} == {token_digest(t) for t in tokens}


async def test_bad_hold_input_is_a_clear_4xx(client: httpx.AsyncClient, clinic: Clinic) -> None:
    setup = await bookable(clinic.tenant)
    url = f"{clinic.public}/holds"
    fields = [
        ("start", {"calendar_id": str(setup.calendar_id), "start": "tomorrow at ten"}),
        ("start", {"calendar_id": str(setup.calendar_id), "start": "2026-13-40T10:00:00+01:00"}),
        ("start", {"calendar_id": str(setup.calendar_id), "start": "2030-01-10T10:00:00"}),
        ("calendar_id", {"calendar_id": "not-a-uuid", "start": slot(clinic.tenant).isoformat()}),
        ("session_key", {**hold_body(setup, slot(clinic.tenant)), "session_key": "x"}),
        ("data", {"start": slot(clinic.tenant).isoformat()}),  # calendar_id missing
        ("data", {**hold_body(setup, slot(clinic.tenant)), "surprise": 1}),
    ]
    for field, body in fields:
        r = await client.post(url, json=body)
        assert problem(r, 422, "validation_failed")["errors"][0]["field"] == field, body
    r = await client.post(url, content=b"{not json", headers={"content-type": "application/json"})
    problem(r, 400)
    big = json.dumps({**hold_body(setup, slot(clinic.tenant)), "session_key": "k" * 70_000})
    r = await client.post(url, content=big.encode(), headers={"content-type": "application/json"})
    problem(r, 413)
    r = await client.delete(f"{url}/not-a-uuid", headers={"X-Hold-Token": "x"})
    assert 400 <= r.status_code < 500


async def test_a_hold_is_unknown_to_other_clinics(
    client: httpx.AsyncClient, make_clinic, clinic: Clinic
) -> None:  # type: ignore[no-untyped-def]
    other = await make_clinic()
    setup = await bookable(clinic.tenant)
    hold = await place_hold(client, clinic.public, setup, slot(clinic.tenant))
    r = await client.delete(
        f"{other.public}/holds/{hold['hold_id']}", headers={"X-Hold-Token": hold["token"]}
    )
    problem(r, 404, "hold_not_found")
