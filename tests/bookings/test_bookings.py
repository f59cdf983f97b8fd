"""Booking a hold: the response, idempotency, patients, expired holds, secrets at rest."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID, uuid4

import httpx
import pytest

from carebook.tenancy import tenant_tx
from carebook.tokens import token_digest
from tests.bookings.support import (
    backdate_hold,
    bookable,
    booking_body,
    events_of,
    fetch_appointment,
    hold_body,
    idem,
    place_hold,
    slot,
)
from tests.conftest import Clinic
from tests.helpers import problem


async def _book(
    client: httpx.AsyncClient, clinic: Clinic, body: dict, key: dict | None = None
) -> httpx.Response:  # type: ignore[type-arg]
    return await client.post(f"{clinic.public}/bookings", json=body, headers=key or idem())


async def test_booking_turns_the_hold_into_an_appointment(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant, price_minor=7250, currency="CHF", name="Mobility check")
    async with tenant_tx(clinic.tenant) as conn:
        form = await conn.fetchval(
            "INSERT INTO form_templates (phase) VALUES ('intake') RETURNING id"
        )
        await conn.execute(
            "UPDATE calendars SET required_form_ids = $2 WHERE id = $1", setup.calendar_id, [form]
        )
    start = slot(clinic.tenant)
    hold = await place_hold(client, clinic.public, setup, start)
    body = booking_body(hold, notes="Knee", answers={"q1": "yes"})
    body["patient"]["timezone"] = "America/New_York"
    r = await _book(client, clinic, body)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["appointment_id"] == hold["hold_id"]
    assert out["status"] == "booked"
    assert datetime.fromisoformat(out["start"]) == start
    assert out["start"].endswith("-05:00")  # the patient's zone
    assert datetime.fromisoformat(out["end"]) == start + timedelta(minutes=30)
    assert out["specialist"] == {"id": str(setup.specialist_id), "name": "Dr Test"}
    assert out["calendar"] == {
        "id": str(setup.calendar_id),
        "name": "Mobility check",
        "slug": setup.calendar["slug"],
    }
    assert out["price"] == {"amount_minor": 7250, "currency": "CHF"}
    url = urlsplit(out["manage_url"])
    assert url.path == f"/c/{clinic.slug}/manage/{out['appointment_id']}"
    manage_token = parse_qs(url.query)["token"][0]
    assert manage_token.startswith("cbm_") and len(manage_token) >= 40
    row = await fetch_appointment(clinic.tenant, out["appointment_id"])
    assert row["status"] == "booked"
    assert (row["price_minor"], row["currency"], row["duration_minutes"]) == (7250, "CHF", 30)
    assert row["required_form_ids"] == [form]
    assert row["notes"] == "Knee" and json.loads(row["answers"]) == {"q1": "yes"}
    assert bytes(row["manage_token_hash"]) == token_digest(manage_token)
    # Editing the calendar later never changes the appointment.
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute("UPDATE calendars SET price_minor = 1 WHERE id = $1", setup.calendar_id)
    assert (await fetch_appointment(clinic.tenant, out["appointment_id"]))["price_minor"] == 7250
    [booked] = await events_of(clinic.tenant, "slot.booked")
    assert booked["specialist_id"] == str(setup.specialist_id)
    assert "pat@example.test" not in json.dumps(booked) and "Pat" not in json.dumps(booked)
    # The booked slot stays taken; the hold cannot be booked or released again.
    problem(
        await client.post(f"{clinic.public}/holds", json=hold_body(setup, start)),
        409,
        "slot_unavailable",
    )
    problem(await _book(client, clinic, body), 409, "hold_already_booked")
    problem(
        await client.delete(
            f"{clinic.public}/holds/{hold['hold_id']}", headers={"X-Hold-Token": hold["token"]}
        ),
        409,
        "hold_already_booked",
    )


async def test_idempotent_retry_returns_the_same_body(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant)
    hold = await place_hold(client, clinic.public, setup, slot(clinic.tenant))
    key = idem()
    body = booking_body(hold)
    first = await _book(client, clinic, body, key)
    assert first.status_code == 201, first.text
    # Same key, same body (keys in another order): the very same response.
    reordered = {k: body[k] for k in reversed(list(body))}
    again = await _book(client, clinic, reordered, key)
    assert again.status_code == 201
    assert again.content == first.content
    # Same key, another body: refused.
    other = booking_body(hold, email="someone@else.test")
    problem(await _book(client, clinic, other, key), 422, "idempotency_key_reused")
    assert len(await events_of(clinic.tenant, "slot.booked")) == 1
    # The stored response holds no clear manage token.
    token = parse_qs(urlsplit(first.json()["manage_url"]).query)["token"][0]
    async with tenant_tx(clinic.tenant) as conn:
        dump = await conn.fetchval(
            "SELECT string_agg(to_jsonb(k)::text, ' ') FROM idempotency_keys k"
        )
    assert token not in dump and token.split("_", 1)[1] not in dump


async def test_concurrent_retries_with_one_key_book_once(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant)
    hold = await place_hold(client, clinic.public, setup, slot(clinic.tenant))
    key = idem()
    results = await asyncio.gather(
        *(_book(client, clinic, booking_body(hold), key) for _ in range(8))
    )
    assert {r.status_code for r in results} == {201}
    assert len({r.text for r in results}) == 1
    assert len(await events_of(clinic.tenant, "slot.booked")) == 1


async def test_missing_or_bad_idempotency_key(client: httpx.AsyncClient, clinic: Clinic) -> None:
    setup = await bookable(clinic.tenant)
    hold = await place_hold(client, clinic.public, setup, slot(clinic.tenant))
    r = await client.post(f"{clinic.public}/bookings", json=booking_body(hold))
    problem(r, 400, "idempotency_key_required")
    r = await client.post(
        f"{clinic.public}/bookings", json=booking_body(hold), headers={"Idempotency-Key": "x" * 300}
    )
    problem(r, 422, "invalid_idempotency_key")
    assert (await fetch_appointment(clinic.tenant, hold["hold_id"]))["status"] == "held"


async def test_patients_matched_case_insensitively(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant)
    ids = []
    for hour, email in (
        (9, "Ada.Lovelace@Example.TEST"),
        (10, "ada.lovelace@example.test"),
        (11, "ADA.LOVELACE@EXAMPLE.TEST"),
    ):
        hold = await place_hold(client, clinic.public, setup, slot(clinic.tenant, hour=hour))
        r = await _book(client, clinic, booking_body(hold, email=email))
        assert r.status_code == 201, r.text
        ids.append((await fetch_appointment(clinic.tenant, hold["hold_id"]))["patient_id"])
    assert len(set(ids)) == 1
    async with tenant_tx(clinic.tenant) as conn:
        assert await conn.fetchval("SELECT count(*) FROM patients") == 1
        # The first booking's details stay: a later booking never rewrites a patient.
        assert await conn.fetchval("SELECT email FROM patients") == "Ada.Lovelace@Example.TEST"


async def test_two_clinics_patients_never_meet(
    client: httpx.AsyncClient, clinic: Clinic, make_clinic
) -> None:  # type: ignore[no-untyped-def]
    other = await make_clinic()
    ours, theirs = await bookable(clinic.tenant), await bookable(other.tenant)
    h1 = await place_hold(client, clinic.public, ours, slot(clinic.tenant))
    h2 = await place_hold(client, other.public, theirs, slot(other.tenant))
    assert (
        await _book(client, clinic, booking_body(h1, email="same@person.test"))
    ).status_code == 201
    assert (
        await _book(client, other, booking_body(h2, email="same@person.test"))
    ).status_code == 201
    p1 = (await fetch_appointment(clinic.tenant, h1["hold_id"]))["patient_id"]
    p2 = (await fetch_appointment(other.tenant, h2["hold_id"]))["patient_id"]
    assert p1 != p2
    async with tenant_tx(clinic.tenant) as conn:
        assert await conn.fetchval("SELECT count(*) FROM patients WHERE id = $1", p2) == 0
    # A hold of one clinic cannot be booked through the other clinic's URL.
    h3 = await place_hold(client, clinic.public, ours, slot(clinic.tenant, hour=12))
    problem(await _book(client, other, booking_body(h3)), 404, "hold_not_found")


async def test_wrong_token_is_403(client: httpx.AsyncClient, clinic: Clinic) -> None:
    setup = await bookable(clinic.tenant)
    hold = await place_hold(client, clinic.public, setup, slot(clinic.tenant))
    problem(
        await _book(client, clinic, {**booking_body(hold), "token": "cbh_" + "A" * 43}),
        403,
        "invalid_hold_token",
    )
    problem(
        await _book(client, clinic, {**booking_body(hold), "hold_id": str(uuid4())}),
        404,
        "hold_not_found",
    )
    assert (await fetch_appointment(clinic.tenant, hold["hold_id"]))["status"] == "held"


async def test_expired_hold_still_free_is_booked(client: httpx.AsyncClient, clinic: Clinic) -> None:
    setup = await bookable(clinic.tenant)
    lapsed = await place_hold(client, clinic.public, setup, slot(clinic.tenant, hour=9))
    swept = await place_hold(client, clinic.public, setup, slot(clinic.tenant, hour=10))
    await backdate_hold(clinic.tenant, lapsed["hold_id"])
    await backdate_hold(clinic.tenant, swept["hold_id"])
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute(
            "UPDATE appointments SET status = 'expired' WHERE id = $1", UUID(swept["hold_id"])
        )
    for hold in (lapsed, swept):
        r = await _book(client, clinic, booking_body(hold))
        assert r.status_code == 201, r.text
        assert (await fetch_appointment(clinic.tenant, hold["hold_id"]))["status"] == "booked"


async def test_expired_hold_taken_meanwhile_is_409_hold_expired(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    setup = await bookable(clinic.tenant, buffer=15)
    start = slot(clinic.tenant)
    old = await place_hold(client, clinic.public, setup, start)
    await backdate_hold(clinic.tenant, old["hold_id"])
    # Someone else holds an overlapping slot (the buffer makes 10:30 collide with 10:00).
    await place_hold(client, clinic.public, setup, slot(clinic.tenant, minute=30))
    problem(await _book(client, clinic, booking_body(old)), 409, "hold_expired")
    assert (await fetch_appointment(clinic.tenant, old["hold_id"]))["status"] == "expired"


async def test_released_hold_cannot_be_booked(client: httpx.AsyncClient, clinic: Clinic) -> None:
    setup = await bookable(clinic.tenant)
    hold = await place_hold(client, clinic.public, setup, slot(clinic.tenant))
    await client.delete(
        f"{clinic.public}/holds/{hold['hold_id']}", headers={"X-Hold-Token": hold["token"]}
    )
    problem(await _book(client, clinic, booking_body(hold)), 409, "hold_released")


async def test_bad_booking_input_is_a_clear_4xx(client: httpx.AsyncClient, clinic: Clinic) -> None:
    setup = await bookable(clinic.tenant)
    hold = await place_hold(client, clinic.public, setup, slot(clinic.tenant))
    good = booking_body(hold)
    bad_bodies = [
        {**good, "patient": {**good["patient"], "email": "not-an-email"}},
        {**good, "patient": {**good["patient"], "name": ""}},
        {**good, "patient": {**good["patient"], "phone": "call me maybe"}},
        {k: v for k, v in good.items() if k != "patient"},
        {**good, "hold_id": "nope"},
        {**good, "extra": True},
    ]
    for body in bad_bodies:
        r = await _book(client, clinic, body)
        assert r.status_code in (400, 422), (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await _book(
        client, clinic, {**good, "patient": {**good["patient"], "timezone": "Mars/Olympus"}}
    )
    body = problem(r, 422, "invalid_timezone")
    assert body["errors"][0]["field"] == "patient.timezone"
    r = await client.post(
        f"{clinic.public}/bookings",
        content=json.dumps({**good, "notes": "x" * 70_000}).encode(),
        headers={**idem(), "content-type": "application/json"},
    )
    problem(r, 413)
    assert (await fetch_appointment(clinic.tenant, hold["hold_id"]))["status"] == "held"


@pytest.mark.parametrize(
    "change",
    [
        lambda b: b["patient"].update(name="Pat\u0000"),
        lambda b: b.update(notes="before\u0000after"),
        lambda b: b.update(answers={"q": "x\u0000"}),
    ],
    ids=["name", "notes", "answers"],
)
async def test_nul_characters_are_a_422_and_leave_the_hold_bookable(
    client: httpx.AsyncClient, clinic: Clinic, change: Callable[[dict[str, Any]], None]
) -> None:
    setup = await bookable(clinic.tenant)
    hold = await place_hold(client, clinic.public, setup, slot(clinic.tenant))
    body = booking_body(hold)
    change(body)
    key = idem()
    problem(await client.post(f"{clinic.public}/bookings", json=body, headers=key),
            422, "invalid_value")  # fmt: skip
    assert (await fetch_appointment(clinic.tenant, hold["hold_id"]))["status"] == "held"
    # The failed attempt released its Idempotency-Key: a corrected retry books.
    r = await client.post(f"{clinic.public}/bookings", json=booking_body(hold), headers=key)
    assert r.status_code == 201, r.text
