"""The statistics API over a small known history: counts, rates, ratings, utilisation."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import httpx

from carebook.tenancy import tenant_tx
from tests.bookings.lifecycle_support import act, book, move_to, staff_member
from tests.bookings.support import bookable, slot
from tests.conftest import Clinic
from tests.helpers import problem


async def test_statistics_of_a_known_history(client: httpx.AsyncClient, clinic: Clinic) -> None:
    setup = await bookable(clinic.tenant)  # one specialist, 09:00-17:00 daily, 30-min slots
    appts = [await book(client, clinic, setup, slot(clinic.tenant, days=2, hour=h))
             for h in (9, 10, 11, 12)]  # fmt: skip
    ids = [a["appointment_id"] for a in appts]
    assert (await act(client, clinic, ids[0], "cancel")).status_code == 200
    await move_to(client, clinic, ids[1], "no_show")  # its start moves to an hour ago
    await move_to(client, clinic, ids[2], "done")
    r = await client.post(f"{clinic.public}/appointments/{ids[2]}/review",
                          headers={"X-Manage-Token": appts[2]["manage_token"]},
                          json={"rating": 4})  # fmt: skip
    assert r.status_code == 201
    today = datetime.now(ZoneInfo(clinic.tenant.timezone)).date()
    period = {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=2))}
    url = f"{clinic.api}/statistics"
    r = await client.get(url, params=period, headers=clinic.headers)
    assert r.status_code == 200, r.text
    total = r.json()["total"]
    assert total == {
        "booked": 4,
        "completed": 1,
        "cancelled": 1,
        "no_show": 1,
        "cancellation_rate": 0.25,
        "no_show_rate": 0.25,
        "average_rating": 4.0,
        "rating_count": 1,
        "booked_minutes": 90,
        "offered_minutes": 4 * 480,
        "utilisation": round(90 / 1920, 4),
    }
    r = await client.get(url, params={**period, "group_by": "specialist"}, headers=clinic.headers)
    [group] = r.json()["groups"]
    assert group["id"] == str(setup.specialist_id) and group["figures"] == total
    r = await client.get(url, params={**period, "calendar_id": str(setup.calendar_id)},
                         headers=clinic.headers)  # fmt: skip
    assert r.json()["total"] == total
    # Only tomorrow+1: the booked one and the cancelled one (the others moved to today).
    r = await client.get(url, params={"from": period["to"], "to": period["to"]},
                         headers=clinic.headers)  # fmt: skip
    later: dict[str, Any] = r.json()["total"]
    assert (later["booked"], later["cancelled"], later["booked_minutes"]) == (2, 1, 30)
    # Availability changes: offered time from yesterday on follows the new schedule.
    morning = [{"isodow": d, "start": "09:00", "end": "13:00"} for d in range(1, 8)]
    r = await client.put(f"{clinic.api}/specialists/{setup.specialist_id}/schedule",
                         headers=clinic.headers, json=morning)  # fmt: skip
    assert r.status_code == 200, r.text
    r = await client.get(url, params=period, headers=clinic.headers)
    assert r.json()["total"]["offered_minutes"] == 4 * 240


async def test_statistics_access_and_input(client: httpx.AsyncClient, clinic: Clinic) -> None:
    setup = await bookable(clinic.tenant)
    url = f"{clinic.api}/statistics"
    problem(await client.get(url, params={"from": "2026-02-01", "to": "2026-01-01"},
                             headers=clinic.headers), 422, "invalid_range")  # fmt: skip
    problem(await client.get(url, params={"from": "2020-01-01", "to": "2026-01-01"},
                             headers=clinic.headers), 422, "invalid_range")  # fmt: skip
    # Defaults: the 30 days up to today.
    r = await client.get(url, headers=clinic.headers)
    assert (
        date.fromisoformat(r.json()["end_date"]) - date.fromisoformat(r.json()["start_date"])
    ).days == 29
    problem(await client.get(url, params={"from": "2026-13-01"}, headers=clinic.headers), 422)
    bad = {"from": "2026-01-01", "to": "2026-01-31", "group_by": "patient"}
    problem(await client.get(url, params=bad, headers=clinic.headers), 422)
    staff_id, spec = await staff_member(clinic, "specialist", "s@stats.test")
    problem(await client.get(url, params={"from": "2026-01-01", "to": "2026-01-31"},
                             headers=spec), 403, "not_your_statistics")  # fmt: skip
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute("UPDATE specialists SET staff_user = $1 WHERE id = $2", staff_id,
                           setup.specialist_id)  # fmt: skip
    r = await client.get(url, params={"from": "2026-01-01", "to": "2026-01-31"}, headers=spec)
    assert r.status_code == 200 and r.json()["specialist_id"] == str(setup.specialist_id)


async def test_a_specialist_reads_only_her_own_figures_and_learns_no_others(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    """Statistics are counts, not patient data: another's figures are 403
    `not_your_statistics`, the same answer as for an id no specialist has (no existence
    oracle), and no filter or grouping widens a specialist's scope past her own figures."""
    mine, theirs = await bookable(clinic.tenant), await bookable(clinic.tenant)
    start = slot(clinic.tenant, days=2, hour=10)
    await book(client, clinic, theirs, start, email="b@stats.test")
    staff_id, spec = await staff_member(clinic, "specialist", "own@stats.test")
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute("UPDATE specialists SET staff_user = $1 WHERE id = $2", staff_id,
                           mine.specialist_id)  # fmt: skip
    url = f"{clinic.api}/statistics"
    day = start.astimezone(ZoneInfo(clinic.tenant.timezone)).date().isoformat()
    period = {"from": day, "to": day}
    other = problem(await client.get(url, params={**period, "specialist_id": str(
        theirs.specialist_id)}, headers=spec), 403, "not_your_statistics")  # fmt: skip
    nobody = problem(await client.get(url, params={**period, "specialist_id": str(uuid4())},
                                      headers=spec), 403, "not_your_statistics")  # fmt: skip
    assert other == nobody
    for extra in ({}, {"group_by": "specialist"}, {"group_by": "calendar"},
                  {"calendar_id": str(theirs.calendar_id)}):  # fmt: skip
        r = await client.get(url, params={**period, **extra}, headers=spec)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["specialist_id"] == str(mine.specialist_id)
        assert body["total"]["booked"] == 0, (extra, body)  # B's booking is not counted
        assert all(g["id"] in (str(mine.specialist_id), str(mine.calendar_id))
                   for g in body["groups"] or []), body  # fmt: skip
    r = await client.get(url, params=period, headers=clinic.headers)
    assert r.json()["total"]["booked"] == 1  # the clinic's figures have it


def test_month_split() -> None:
    from datetime import date

    from stats.service import month_split

    # No whole month: all days.
    assert month_split(date(2026, 3, 5), date(2026, 3, 20)) == (
        date(2026, 3, 20),
        date(2026, 3, 21),
        date(2026, 4, 1),
        date(2026, 4, 1),
    )
    # Head days, two whole months, tail days.
    assert month_split(date(2026, 1, 20), date(2026, 4, 3)) == (
        date(2026, 1, 31),
        date(2026, 4, 1),
        date(2026, 2, 1),
        date(2026, 4, 1),
    )
    # Exactly whole months: empty head and tail.
    head, tail, first, last = month_split(date(2026, 1, 1), date(2026, 12, 31))
    assert (first, last) == (date(2026, 1, 1), date(2027, 1, 1))
    assert head < date(2026, 1, 1) and tail > date(2026, 12, 31)
    # A whole month inside a leap February.
    assert month_split(date(2028, 1, 31), date(2028, 3, 1))[2:] == (
        date(2028, 2, 1),
        date(2028, 3, 1),
    )
