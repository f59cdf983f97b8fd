"""The staff view of a day's appointments: filters, zones and who may see what."""

from __future__ import annotations

import httpx

from tests.bookings.support import Setup, bookable, booking_body, idem, place_hold, slot
from tests.conftest import Clinic
from tests.factories import add_calendar, add_specialist
from tests.helpers import problem


async def _booked(client: httpx.AsyncClient, clinic: Clinic, setup, start, email: str) -> str:  # type: ignore[no-untyped-def]
    hold = await place_hold(client, clinic.public, setup, start)
    r = await client.post(
        f"{clinic.public}/bookings", json=booking_body(hold, email=email), headers=idem()
    )
    assert r.status_code == 201, r.text
    return str(hold["hold_id"])


async def test_day_list_with_filters(client: httpx.AsyncClient, clinic: Clinic) -> None:
    setup = await bookable(clinic.tenant)
    other = await add_specialist(clinic.tenant, name="Dr Other")
    cal2 = await add_calendar(clinic.tenant, [other])
    setup2 = Setup(clinic.tenant, other, cal2["id"], cal2)
    a = await _booked(client, clinic, setup, slot(clinic.tenant, hour=9), "a@p.test")
    b = await _booked(client, clinic, setup2, slot(clinic.tenant, hour=10), "b@p.test")
    held = await place_hold(client, clinic.public, setup, slot(clinic.tenant, hour=11))
    await _booked(client, clinic, setup, slot(clinic.tenant, days=2, hour=9), "c@p.test")
    day = slot(clinic.tenant).date().isoformat()
    url = f"{clinic.api}/appointments"

    r = await client.get(url, params={"date": day}, headers=clinic.headers)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["date"] == day and out["timezone"] == clinic.tenant.timezone
    assert [x["id"] for x in out["appointments"]] == [a, b]
    first = out["appointments"][0]
    assert first["patient"]["email"] == "a@p.test" and first["patient"]["name"] == "Pat Example"
    assert first["status"] == "booked" and first["specialist"]["id"] == str(setup.specialist_id)

    r = await client.get(
        url, params={"date": day, "specialist_id": str(other)}, headers=clinic.headers
    )
    assert [x["id"] for x in r.json()["appointments"]] == [b]
    r = await client.get(url, params={"date": day, "status": "held"}, headers=clinic.headers)
    assert [x["id"] for x in r.json()["appointments"]] == [held["hold_id"]]
    assert r.json()["appointments"][0]["patient"] is None
    # Another zone shifts the local day: 09:00 Berlin is 08:00 UTC of the same date.
    r = await client.get(
        url, params={"date": day, "tz": "Pacific/Kiritimati"}, headers=clinic.headers
    )
    assert r.status_code == 200 and r.json()["timezone"] == "Pacific/Kiritimati"
    assert all(x["start"].endswith("+14:00") for x in r.json()["appointments"])


async def test_day_list_bad_input_and_auth(client: httpx.AsyncClient, clinic: Clinic) -> None:
    url = f"{clinic.api}/appointments"
    problem(
        await client.get(url, params={"date": "2026-02-30"}, headers=clinic.headers),
        422,
        "invalid_date",
    )
    problem(
        await client.get(url, params={"tz": "Nowhere/City"}, headers=clinic.headers),
        422,
        "invalid_timezone",
    )
    problem(
        await client.get(url, params={"status": "sleeping"}, headers=clinic.headers),
        422,
        "invalid_status",
    )
    assert (
        await client.get(url, params={"specialist_id": "x"}, headers=clinic.headers)
    ).status_code in (400, 422)
    problem(await client.get(url), 401)
    r = await client.get(url, headers=clinic.headers)  # default: today in the clinic zone
    assert r.status_code == 200 and r.json()["appointments"] == []


async def test_specialists_see_only_their_own(client: httpx.AsyncClient, clinic: Clinic) -> None:
    r = await client.post(
        f"{clinic.api}/staff",
        json={"email": "doc@c.test", "name": "Doc", "role": "specialist"},
        headers=clinic.headers,
    )
    staff_id = r.json()["id"]
    token = (
        await client.post(f"{clinic.api}/staff/{staff_id}/tokens", json={}, headers=clinic.headers)
    ).json()["token"]
    doc_headers = {"Authorization": f"Bearer {token}"}
    url = f"{clinic.api}/appointments"
    # Not linked to a specialist yet: no appointments are theirs.
    r = await client.get(url, headers=doc_headers)
    assert r.status_code == 200 and r.json()["appointments"] == []
    mine = await add_specialist(clinic.tenant, name="Doc", staff_user=staff_id)
    setup = await bookable(clinic.tenant)
    cal = await add_calendar(clinic.tenant, [mine])
    my_setup = Setup(clinic.tenant, mine, cal["id"], cal)
    theirs = await _booked(client, clinic, setup, slot(clinic.tenant, hour=9), "x@p.test")
    own = await _booked(client, clinic, my_setup, slot(clinic.tenant, hour=9), "y@p.test")
    day = slot(clinic.tenant).date().isoformat()
    r = await client.get(url, params={"date": day}, headers=doc_headers)
    assert [x["id"] for x in r.json()["appointments"]] == [own]
    r = await client.get(
        url, params={"date": day, "specialist_id": str(setup.specialist_id)}, headers=doc_headers
    )
    assert r.status_code == 200 and r.json()["appointments"] == []
    r = await client.get(url, params={"date": day}, headers=clinic.headers)
    assert sorted(x["id"] for x in r.json()["appointments"]) == sorted([own, theirs])
