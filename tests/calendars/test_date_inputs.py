"""Dates are strictly YYYY-MM-DD and the ends of the calendar are 422 problems, never a 500.

Every date or instant the API reads is probed at year 1 and 9999, on both sides of UTC
(Kiritimati +14:00, Etc/GMT+12 -12:00), and in ISO 8601 forms other than YYYY-MM-DD.
"""

from __future__ import annotations

import httpx
import pytest

from tests.bookings.support import bookable
from tests.conftest import Clinic
from tests.helpers import problem

ZONES = ["Pacific/Kiritimati", "Etc/GMT+12"]
NOT_A_DATE = [
    "2027-W01-1",
    "2027-001",
    "20270104",
    "2027-1-4",
    "2027-01-04T00:00",
    "２０２７-01-04",
]
EDGES = ["0001-01-01", "9999-12-31"]
EDGE_INSTANTS = [
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00-12:00",
    "9999-12-31T23:59:59-12:00",
    "9999-12-31T23:59:59+14:00",
]


@pytest.fixture
async def setup_(clinic: Clinic) -> object:
    return await bookable(clinic.tenant)


async def test_slots_take_only_yyyy_mm_dd(
    client: httpx.AsyncClient, clinic: Clinic, setup_: object
) -> None:
    url = f"{clinic.public}/calendars/{setup_.calendar_id}/slots"  # type: ignore[attr-defined]
    for bad in NOT_A_DATE:
        for params in ({"start": bad, "end": "2027-01-10"}, {"start": "2027-01-04", "end": bad}):
            body = problem(await client.get(url, params=params), 422, "invalid_date")
            assert body["errors"][0]["field"] in ("start", "end")
    ok = await client.get(url, params={"start": "2027-01-04", "end": "2027-01-04"})
    assert ok.status_code == 200
    assert ok.json()["days"][0]["date"] == "2027-01-04"


async def test_slots_at_the_ends_of_the_calendar_are_422(
    client: httpx.AsyncClient, clinic: Clinic, setup_: object
) -> None:
    url = f"{clinic.public}/calendars/{setup_.calendar_id}/slots"  # type: ignore[attr-defined]
    for tz in ZONES:
        for day in EDGES:
            r = await client.get(url, params={"start": day, "end": day, "tz": tz})
            problem(r, 422, "date_out_of_range")
        for first, last in (("0001-01-02", "0001-01-03"), ("9999-12-29", "9999-12-30")):
            r = await client.get(url, params={"start": first, "end": last, "tz": tz})
            assert r.status_code == 200, r.text
            assert [d["date"] for d in r.json()["days"]] == [first, last]


async def test_staff_day_list_dates(client: httpx.AsyncClient, clinic: Clinic) -> None:
    url = f"{clinic.api}/appointments/"
    for bad in NOT_A_DATE:
        problem(await client.get(url, params={"date": bad}, headers=clinic.headers), 422,
                "invalid_date")  # fmt: skip
    for tz in ZONES:
        for day in EDGES:
            r = await client.get(url, params={"date": day, "tz": tz}, headers=clinic.headers)
            problem(r, 422, "date_out_of_range")
        for day in ("0001-01-02", "9999-12-30"):
            r = await client.get(url, params={"date": day, "tz": tz}, headers=clinic.headers)
            assert r.status_code == 200, r.text


async def test_closure_and_override_dates(
    client: httpx.AsyncClient, clinic: Clinic, setup_: object
) -> None:
    sid = setup_.specialist_id  # type: ignore[attr-defined]
    posts = [
        (f"{clinic.api}/closures", {}),
        (f"{clinic.api}/specialists/{sid}/overrides", {"kind": "unavailable", "reason": "other"}),
    ]
    for url, extra in posts:
        for day in EDGES:
            for body in ({"start_date": day}, {"start_date": "2027-01-04", "end_date": day}):
                r = await client.post(url, json={**extra, **body}, headers=clinic.headers)
                assert r.status_code == 422, r.text
                assert r.json()["code"] in ("date_out_of_range", "invalid_range"), r.text
        for bad in NOT_A_DATE:
            r = await client.post(url, json={**extra, "start_date": bad}, headers=clinic.headers)
            problem(r, 422)
        r = await client.post(url, json={**extra, "start_date": "9999-12-30"},
                              headers=clinic.headers)  # fmt: skip
        assert r.status_code == 201, r.text
        assert r.json()["end_date"] == "9999-12-30"
        for since in ("0001-01-01", "9999-12-31"):
            r = await client.get(url, params={"since": since}, headers=clinic.headers)
            assert r.status_code == 200, r.text
        for bad in NOT_A_DATE:
            r = await client.get(url, params={"since": bad}, headers=clinic.headers)
            assert 400 <= r.status_code < 500, r.text


async def test_instants_at_the_ends_of_the_calendar(
    client: httpx.AsyncClient, clinic: Clinic, setup_: object
) -> None:
    cal = setup_.calendar  # type: ignore[attr-defined]
    for i, instant in enumerate(EDGE_INSTANTS):
        r = await client.post(f"{clinic.public}/holds",
                              json={"calendar_id": str(cal["id"]), "start": instant})  # fmt: skip
        assert r.status_code == 422, r.text
        assert r.json()["code"] in ("date_out_of_range", "invalid_slot"), r.text
        for field in ("active_from", "active_until"):
            body = {
                "service_id": str(cal["service_id"]),
                "name": "Edge",
                "slug": f"e{i}-{field[7:]}",
                "price_minor": 0,
                "currency": "EUR",
                "duration_minutes": 30,
                field: instant,
            }
            r = await client.post(f"{clinic.api}/calendars", json=body, headers=clinic.headers)
            assert r.status_code in (201, 422), r.text
            if r.status_code == 422:
                assert r.json()["code"] == "date_out_of_range", r.text
            r = await client.patch(f"{clinic.api}/calendars/{cal['id']}", json={field: instant},
                                   headers=clinic.headers)  # fmt: skip
            assert r.status_code in (200, 422), r.text
        week = {"calendar_id": str(cal["id"]), "start": "2027-W01-1T10:00+01:00"}
        r = await client.post(f"{clinic.public}/holds", json=week)
        problem(r, 422)
