"""Who sees what through the staff API: a specialist reads only their own appointments'
patient data (StaffPrincipal.appointment_scope); admins and receptionists the whole clinic.
Enumerated over every staff API GET route (as the access audit), so a new one is covered."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from carebook.tenancy import tenant_tx
from forms import instances
from forms.instances import Filler
from notifications import service as notify
from tests.bookings.lifecycle_support import staff_member
from tests.bookings.support import bookable, idem, slot
from tests.forms.support import create_form, require_forms
from tests.web.staff.test_agenda import book
from tests.web.staff.test_audit import PARAM, get_routes

API = "/api/v1/clinics/{clinic:str}"
MISSING = "00000000-0000-0000-0000-000000000000"
# Routes bound to one appointment: another specialist's id is a 404, as a missing one.
BOUND = ("appointment_id", "instance_id")
# The routes that show patient data (to admins): the table below must find them all.
PATIENT_DATA = {
    f"{API}/appointments",
    f"{API}/appointments/{{appointment_id:uuid}}",
    f"{API}/appointments/{{appointment_id:uuid}}/forms",
    f"{API}/appointments/{{appointment_id:uuid}}/forms/{{instance_id:uuid}}",
    f"{API}/notifications",
    f"{API}/outbox",
}


@dataclass
class Side:
    """One specialist with a staff account, and their patient's booked appointment."""

    headers: dict[str, str]
    specialist_id: str
    calendar_id: str
    appointment_id: str
    instance_id: str
    marks: tuple[str, ...]  # the patient's name, e-mail and form answer


def api_routes() -> list[str]:
    return [p for p in get_routes() if p.startswith(API)]


async def side(client, clinic, letter: str, hour: int) -> Side:
    """Specialist ``letter`` with a booked patient, her answered intake form and messages."""
    setup = await bookable(clinic.tenant)
    field = {"key": "story", "type": "long_text", "label": "What brings you here?"}
    form = await create_form(client, clinic, name=f"Intake {letter}", fields=[field])
    assert (await require_forms(client, clinic, setup, [form["id"]])).status_code == 200
    name, email = f"Patient Scope{letter}", f"scope-{letter.lower()}@patients.test"
    answer = f"Answer only {letter} may read"
    start = slot(clinic.tenant, days=1, hour=hour)
    appointment_id = (await book(client, clinic, setup, start, name=name, email=email))[
        "appointment_id"
    ]
    staff_id, headers = await staff_member(clinic, "specialist", f"doc-{letter}@{clinic.slug}.t")
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute(
            "UPDATE specialists SET staff_user = $1 WHERE id = $2", staff_id, setup.specialist_id
        )
        await instances.generate(conn, appointment_id, "intake")
        [instance] = await instances.list_instances(conn, appointment_id)
        await instances.save_answers(
            conn, appointment_id, instance.id, {"story": answer},
            Filler("patient"), datetime.now(UTC),
        )  # fmt: skip
    await notify.on_booked(clinic.tenant, appointment_id, None)  # her messages, to the outbox
    return Side(headers, str(setup.specialist_id), str(setup.calendar_id), str(appointment_id),
                str(instance.id), (name, email, answer))  # fmt: skip


@pytest.fixture
async def two(client, clinic):
    """Specialists A and B, each with a booked appointment; staff of each role."""
    a = await side(client, clinic, "A", 10)
    b = await side(client, clinic, "B", 11)
    _, desk = await staff_member(clinic, "receptionist", f"desk@{clinic.slug}.t")
    return a, b, {"admin": clinic.headers, "receptionist": desk}


def url(clinic, path: str, of: Side, day: str, **over: str) -> str:
    values = {
        "clinic": clinic.slug,
        "appointment_id": of.appointment_id,
        "instance_id": of.instance_id,
        "specialist_id": of.specialist_id,
        "calendar_id": of.calendar_id,
        **over,
    }
    filled = PARAM.sub(lambda m: values.get(m.group(1), MISSING), path)
    return filled + (f"?date={day}" if path == f"{API}/appointments" else "")


async def test_a_specialist_never_reads_another_specialists_patients(client, clinic, two):
    a, b, clinic_wide = two
    day = slot(clinic.tenant, days=1).date().isoformat()
    showing_b: dict[str, set[str]] = {role: set() for role in clinic_wide}
    for path in api_routes():
        # A asks with B's ids (and, for listings, B's appointment or specialist as a filter).
        for extra in ("", f"appointment_id={b.appointment_id}", f"specialist_id={b.specialist_id}"):
            target = url(clinic, path, b, day)
            target += ("&" if "?" in target else "?") + extra if extra else ""
            r = await client.get(target, headers=a.headers)
            assert r.status_code < 500, (path, r.status_code, r.text)
            leaked = [mark for mark in b.marks if mark in r.text]
            assert not leaked, (path, extra, leaked)
        # A still reads A's own patient where the route lists or shows her.
        r = await client.get(url(clinic, path, a, day), headers=a.headers)
        if path in PATIENT_DATA:
            assert r.status_code == 200, (path, r.text)
            assert any(mark in r.text for mark in a.marks), path
        # Admins and the front desk keep the whole clinic: B's patient and A's.
        for role, headers in clinic_wide.items():
            r = await client.get(url(clinic, path, b, day), headers=headers)
            if any(mark in r.text for mark in b.marks):
                showing_b[role].add(path)
                if "{appointment_id" not in path:  # a listing: A's patient is there too
                    assert any(mark in r.text for mark in a.marks), (role, path)
    for role, paths in showing_b.items():
        assert paths >= PATIENT_DATA, (role, PATIENT_DATA - paths)


async def test_another_specialists_items_are_404_as_missing_ones(client, clinic, two):
    a, b, clinic_wide = two
    day = slot(clinic.tenant, days=1).date().isoformat()
    bound = [p for p in api_routes() if any(f"{{{k}:" in p for k in BOUND)]
    assert set(bound) >= {p for p in PATIENT_DATA if "{appointment_id" in p}
    for path in bound:
        missing = await client.get(
            url(clinic, path, b, day, appointment_id=str(uuid.uuid4())), headers=a.headers
        )
        theirs = await client.get(url(clinic, path, b, day), headers=a.headers)
        assert theirs.status_code == missing.status_code == 404, (path, theirs.text)
        assert theirs.json()["code"] == missing.json()["code"], (path, theirs.text)
        assert theirs.headers["content-type"].startswith("application/problem+json")
        mine = await client.get(url(clinic, path, a, day), headers=a.headers)
        assert mine.status_code == 200, (path, mine.text)
        for role, headers in clinic_wide.items():
            r = await client.get(url(clinic, path, b, day), headers=headers)
            assert r.status_code == 200, (role, path, r.text)


# --- Writes: a specialist's action on another's appointment answers as on a missing one -----


def as_missing(theirs, missing, theirs_id: str, missing_id: str) -> None:
    """``theirs`` (with another specialist's id) is the answer ``missing`` got (a missing
    id): the same status, media type and body, but for the id in ``instance`` (the path)."""
    assert theirs.status_code == missing.status_code == 404, (theirs.text, missing.text)
    assert theirs.headers["content-type"] == missing.headers["content-type"]
    assert theirs.headers["content-type"].startswith("application/problem+json")
    body, expected = theirs.json(), missing.json()
    assert body.pop("instance").replace(theirs_id, "ID") == expected.pop("instance").replace(
        missing_id, "ID"
    )
    assert body == expected, (body, expected)


async def post_as_on_a_missing_one(
    client, clinic, caller, appointment_id: str, action: str, body: dict
) -> None:
    """``caller``'s POST of ``body`` to ``action`` of ``appointment_id`` is answered as the
    same POST on a missing id: 404 ``appointment_not_found``, the same body."""
    missing_id = str(uuid.uuid4())
    theirs = await client.post(f"{clinic.api}/appointments/{appointment_id}/{action}",
                               json=body, headers=caller.headers)  # fmt: skip
    missing = await client.post(f"{clinic.api}/appointments/{missing_id}/{action}",
                                json=body, headers=caller.headers)  # fmt: skip
    as_missing(theirs, missing, appointment_id, missing_id)
    assert theirs.json()["code"] == "appointment_not_found"


async def state_of(clinic, appointment_id: str) -> tuple[str, int, int, object]:
    async with tenant_tx(clinic.tenant) as conn:
        row = await conn.fetchrow(
            "SELECT status, version, starts_at, (SELECT count(*) FROM appointment_history h"
            " WHERE h.appointment_id = a.id) AS events FROM appointments a WHERE id = $1",
            uuid.UUID(appointment_id),
        )
    return row["status"], row["version"], row["events"], row["starts_at"]


async def admin_version(client, clinic, appointment_id: str) -> int:
    r = await client.get(f"{clinic.api}/appointments/{appointment_id}", headers=clinic.headers)
    assert r.status_code == 200, r.text
    version: int = r.json()["version"]
    return version


async def test_a_transition_on_another_specialists_appointment_is_as_on_a_missing_one(
    client, clinic, two
):
    a, b, _ = two
    before = await state_of(clinic, b.appointment_id)
    version = await admin_version(client, clinic, b.appointment_id)
    # Also a stale version (which would be a 409 on A's own): nothing tells B's exists.
    for body in ({"action": "cancel", "version": version, "reason": "Patient called"},
                 {"action": "cancel", "version": version + 5, "reason": "Patient called"},
                 {"action": "confirm", "version": version}):  # fmt: skip
        await post_as_on_a_missing_one(client, clinic, a, b.appointment_id, "transitions", body)
    assert await state_of(clinic, b.appointment_id) == before
    # B's appointment is still B's to act on (and admins', receptionists').
    r = await client.post(f"{clinic.api}/appointments/{a.appointment_id}/transitions",
                          json={"action": "cancel", "version": await admin_version(
                              client, clinic, a.appointment_id), "reason": "Ill"},
                          headers=a.headers)  # fmt: skip
    assert r.status_code == 200, r.text


async def test_a_reschedule_of_another_specialists_appointment_is_as_of_a_missing_one(
    client, clinic, two
):
    a, b, _ = two
    before = await state_of(clinic, b.appointment_id)
    version = await admin_version(client, clinic, b.appointment_id)
    free = slot(clinic.tenant, days=2, hour=11).isoformat()  # a free slot of B's calendar
    for body in ({"version": version, "start": free},
                 {"version": version, "start": free, "specialist_id": b.specialist_id},
                 {"version": version + 5, "start": free}):  # fmt: skip
        await post_as_on_a_missing_one(client, clinic, a, b.appointment_id, "reschedule", body)
    assert await state_of(clinic, b.appointment_id) == before
    r = await client.post(f"{clinic.api}/appointments/{b.appointment_id}/reschedule",
                          json={"version": version, "start": free},
                          headers=clinic.headers)  # fmt: skip
    assert r.status_code == 200, r.text  # the slot was free: only the caller was wrong


async def test_a_booking_with_another_specialist_is_as_with_a_missing_one(client, clinic, two):
    a, b, _ = two
    patient = {"name": "Pat Phone", "email": "phone@patients.test", "timezone": "Europe/Berlin"}
    free_b = slot(clinic.tenant, days=2, hour=12).isoformat()  # free in both calendars
    missing_id = str(uuid.uuid4())
    for calendar_id in (b.calendar_id, a.calendar_id, str(uuid.uuid4())):
        body = {"calendar_id": calendar_id, "start": free_b, "patient": patient}
        theirs = await client.post(f"{clinic.api}/appointments", headers={**a.headers, **idem()},
                                   json={**body, "specialist_id": b.specialist_id})  # fmt: skip
        missing = await client.post(f"{clinic.api}/appointments", headers={**a.headers, **idem()},
                                    json={**body, "specialist_id": missing_id})  # fmt: skip
        as_missing(theirs, missing, b.specialist_id, missing_id)
        known = calendar_id in (a.calendar_id, b.calendar_id)
        assert theirs.json()["code"] == ("specialist_not_found" if known else "calendar_not_found")
    async with tenant_tx(clinic.tenant) as conn:
        booked = await conn.fetchval(
            "SELECT count(*) FROM appointments WHERE patient_id IN "
            "(SELECT id FROM patients WHERE email = 'phone@patients.test')"
        )
    assert booked == 0
    # A books with herself (named or not), and an account linked to no specialist not at all.
    for named in ({}, {"specialist_id": a.specialist_id}):
        body = {"calendar_id": a.calendar_id, "start": slot(clinic.tenant, days=2,
                hour=13 + len(named)).isoformat(), "patient": patient, **named}  # fmt: skip
        r = await client.post(f"{clinic.api}/appointments", headers={**a.headers, **idem()},
                              json=body)  # fmt: skip
        assert r.status_code == 201 and r.json()["specialist"]["id"] == a.specialist_id, r.text
    _, loose = await staff_member(clinic, "specialist", f"loose@{clinic.slug}.t")
    body = {"calendar_id": a.calendar_id, "start": free_b, "patient": patient}
    r = await client.post(f"{clinic.api}/appointments", headers={**loose, **idem()}, json=body)
    assert r.status_code == 403 and r.json()["code"] == "no_specialist_linked", r.text


async def test_a_missing_appointment_is_one_404_on_every_staff_route(client, clinic):
    """The staff API's detail, transitions, forms and video join answer a missing id with
    the same problem (one text, bookings.outcomes.appointment_not_found), as does the page."""
    missing_id = str(uuid.uuid4())
    base = f"{clinic.api}/appointments/{missing_id}"
    transition = {"action": "confirm", "version": 1}
    answers = [
        await client.get(base, headers=clinic.headers),
        await client.get(f"{base}/forms", headers=clinic.headers),
        await client.post(f"{base}/transitions", json=transition, headers=clinic.headers),
        await client.post(f"{base}/video/join", headers=clinic.headers),
    ]
    for r in answers:
        assert r.status_code == 404, (r.request.url, r.text)
        body = r.json()
        assert body["code"] == "appointment_not_found", body
        assert body["detail"] == "No such appointment.", body
