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
from tests.bookings.support import bookable, slot
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
