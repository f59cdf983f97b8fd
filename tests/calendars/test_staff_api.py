"""Staff API: specialists, schedules, overrides, closures, services, calendars; guards; events."""

from __future__ import annotations

from typing import Any

import pytest

from carebook.tenancy import tenant_tx
from tests.helpers import problem


async def _events(clinic) -> list[dict[str, Any]]:
    async with tenant_tx(clinic.tenant) as conn:
        rows = await conn.fetch("SELECT type, specialist_id, data FROM events ORDER BY id")
    return [dict(r) for r in rows]


async def _specialist(client, clinic, **extra) -> dict[str, Any]:
    body = {"name": "Dr Who", "email": "who@clinic.test", "timezone": "Europe/Berlin", **extra}
    r = await client.post(f"{clinic.api}/specialists", json=body, headers=clinic.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def _staff_token(client, clinic, email: str) -> tuple[str, dict[str, str]]:
    r = await client.post(
        f"{clinic.api}/staff",
        headers=clinic.headers,
        json={"email": email, "name": "Spec", "role": "specialist"},
    )
    assert r.status_code == 201, r.text
    staff_id = r.json()["id"]
    t = await client.post(f"{clinic.api}/staff/{staff_id}/tokens", headers=clinic.headers, json={})
    return staff_id, {"Authorization": f"Bearer {t.json()['token']}"}


async def test_specialist_crud(client, clinic):
    s = await _specialist(client, clinic, buffer_minutes=15)
    assert s["buffer_minutes"] == 15 and s["active"] and s["staff_user"] is None
    r = await client.patch(
        f"{clinic.api}/specialists/{s['id']}",
        headers=clinic.headers,
        json={"timezone": "Europe/Lisbon", "buffer_minutes": 240},
    )
    assert r.json()["timezone"] == "Europe/Lisbon" and r.json()["buffer_minutes"] == 240
    listed = await client.get(f"{clinic.api}/specialists", headers=clinic.headers)
    assert [x["id"] for x in listed.json()] == [s["id"]]
    r = await client.delete(f"{clinic.api}/specialists/{s['id']}", headers=clinic.headers)
    assert r.status_code == 204
    problem(await client.get(f"{clinic.api}/specialists/{s['id']}", headers=clinic.headers), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Europe/Nowhere"}, "timezone"),
        ({"buffer_minutes": 241}, None),
        ({"buffer_minutes": -1}, None),
        ({"email": "not-an-email"}, None),
    ],
)
async def test_specialist_validation(client, clinic, body, field):
    payload = {"name": "X", "email": "x@clinic.test", "timezone": "UTC", **body}
    r = await client.post(f"{clinic.api}/specialists", json=payload, headers=clinic.headers)
    err = problem(r, 422)
    if field:
        assert err["errors"][0]["field"] == field


async def test_weekly_schedule_put_get_and_24_00(client, clinic):
    s = await _specialist(client, clinic)
    week = [
        {"isodow": 1, "start": "09:00", "end": "12:00"},
        {"isodow": 1, "start": "13:00", "end": "17:00"},
        {"isodow": 5, "start": "20:00", "end": "24:00"},
    ]
    url = f"{clinic.api}/specialists/{s['id']}/schedule"
    r = await client.put(url, json=week, headers=clinic.headers)
    assert r.status_code == 200, r.text
    assert r.json() == week
    assert (await client.get(url, headers=clinic.headers)).json() == week
    r = await client.put(url, json=week[:1], headers=clinic.headers)
    assert (await client.get(url, headers=clinic.headers)).json() == week[:1]


@pytest.mark.parametrize(
    ("bad", "index"),
    [
        ({"isodow": 1, "start": "11:00", "end": "13:30"}, 2),  # overlaps 09:00-12:00
        ({"isodow": 2, "start": "10:00", "end": "10:00"}, 2),  # empty
        ({"isodow": 2, "start": "12:00", "end": "10:00"}, 2),  # inverted
        ({"isodow": 2, "start": "9:00", "end": "10:00"}, 2),  # malformed
        ({"isodow": 2, "start": "24:00", "end": "24:00"}, 2),  # 24:00 only ends a day
        ({"isodow": 8, "start": "09:00", "end": "10:00"}, 2),
        ({"isodow": 2, "start": "09:00", "end": "25:00"}, 2),
    ],
)
async def test_bad_schedule_is_422_naming_the_interval_and_changes_nothing(
    client, clinic, bad, index
):
    s = await _specialist(client, clinic)
    url = f"{clinic.api}/specialists/{s['id']}/schedule"
    good = [
        {"isodow": 1, "start": "09:00", "end": "12:00"},
        {"isodow": 1, "start": "13:00", "end": "17:00"},
    ]
    assert (await client.put(url, json=good, headers=clinic.headers)).status_code == 200
    r = await client.put(url, json=[*good, bad], headers=clinic.headers)
    body = problem(r, 422, "invalid_intervals")
    assert [e["field"] for e in body["errors"]] == [f"intervals[{index}]"]
    assert body["errors"][0]["index"] == index
    assert (await client.get(url, headers=clinic.headers)).json() == good


async def test_overrides_and_closures(client, clinic):
    s = await _specialist(client, clinic)
    url = f"{clinic.api}/specialists/{s['id']}/overrides"
    off = await client.post(
        url,
        headers=clinic.headers,
        json={
            "start_date": "2026-12-24",
            "end_date": "2026-12-26",
            "kind": "unavailable",
            "reason": "holiday",
        },
    )
    assert off.status_code == 201, off.text
    assert off.json()["end_date"] == "2026-12-26"
    custom = await client.post(
        url,
        headers=clinic.headers,
        json={
            "start_date": "2026-12-27",
            "kind": "custom_hours",
            "intervals": [{"start": "10:00", "end": "12:00"}, {"start": "18:00", "end": "24:00"}],
        },
    )
    assert custom.status_code == 201, custom.text
    overlap = await client.post(
        url,
        headers=clinic.headers,
        json={"start_date": "2026-12-26", "kind": "unavailable", "reason": "sick"},
    )
    problem(overlap, 409, "override_overlaps")
    problem(
        await client.post(
            url, headers=clinic.headers, json={"start_date": "2026-12-30", "kind": "unavailable"}
        ),
        422,
        "reason_required",
    )
    problem(
        await client.post(
            url, headers=clinic.headers, json={"start_date": "2026-12-30", "kind": "custom_hours"}
        ),
        422,
        "intervals_required",
    )
    bad = await client.post(
        url,
        headers=clinic.headers,
        json={
            "start_date": "2026-12-30",
            "kind": "custom_hours",
            "intervals": [{"start": "10:00", "end": "12:00"}, {"start": "11:00", "end": "13:00"}],
        },
    )
    assert problem(bad, 422, "invalid_intervals")["errors"][0]["field"] == "intervals[1]"
    listed = (await client.get(url, headers=clinic.headers)).json()
    assert [o["kind"] for o in listed] == ["unavailable", "custom_hours"]
    assert listed[1]["intervals"][1] == {"start": "18:00", "end": "24:00"}
    r = await client.delete(f"{url}/{off.json()['id']}", headers=clinic.headers)
    assert r.status_code == 204
    c = await client.post(
        f"{clinic.api}/closures",
        headers=clinic.headers,
        json={"start_date": "2026-12-31", "reason": "New Year"},
    )
    assert c.status_code == 201 and c.json()["end_date"] == "2026-12-31"
    assert len((await client.get(f"{clinic.api}/closures", headers=clinic.headers)).json()) == 1
    d = await client.delete(f"{clinic.api}/closures/{c.json()['id']}", headers=clinic.headers)
    assert d.status_code == 204
    types = [(e["type"], e["specialist_id"]) for e in await _events(clinic)]
    sid = s["id"]
    assert [(t, str(x) if x else None) for t, x in types] == [
        ("availability.changed", sid),
        ("availability.changed", sid),
        ("availability.changed", sid),
        ("availability.changed", None),
        ("availability.changed", None),
    ]


async def test_services_and_calendars_crud_and_events(client, clinic):
    a = await _specialist(client, clinic)
    svc = await client.post(
        f"{clinic.api}/services",
        headers=clinic.headers,
        json={"name": "Mobility", "default_duration_minutes": 30},
    )
    assert svc.status_code == 201, svc.text
    form = await client.post(
        f"{clinic.api}/forms",
        headers=clinic.headers,
        json={"name": "Intake", "phase": "intake",
              "fields": [{"key": "q", "type": "text", "label": "Q"}]},
    )  # fmt: skip
    assert form.status_code == 201, form.text
    body = {
        "service_id": svc.json()["id"],
        "name": "Promo",
        "slug": "promo",
        "kind": "promotional",
        "price_minor": 6000,
        "currency": "EUR",
        "duration_minutes": 30,
        "slot_interval_minutes": 15,
        "min_notice_minutes": 60,
        "horizon_days": 30,
        "active_from": "2026-12-01T00:00:00+01:00",
        "special_hours": [{"isodow": 1, "start": "08:00", "end": "12:00"}],
        "listed": False,
        "video": True,
        "specialist_ids": [a["id"]],
        "required_form_ids": [form.json()["id"]],
    }
    r = await client.post(f"{clinic.api}/calendars", headers=clinic.headers, json=body)
    assert r.status_code == 201, r.text
    cal = r.json()
    for key in (
        "kind",
        "price_minor",
        "slot_interval_minutes",
        "special_hours",
        "video",
        "specialist_ids",
        "required_form_ids",
        "listed",
    ):
        assert cal[key] == body[key], key
    problem(
        await client.post(f"{clinic.api}/calendars", headers=clinic.headers, json=body),
        409,
        "slug_taken",
    )
    bad = {**body, "slug": "other", "currency": "EUX"}
    problem(
        await client.post(f"{clinic.api}/calendars", headers=clinic.headers, json=bad),
        422,
        "invalid_currency",
    )
    bad = {**body, "slug": "other", "duration_minutes": 481}
    problem(await client.post(f"{clinic.api}/calendars", headers=clinic.headers, json=bad), 422)
    r = await client.patch(
        f"{clinic.api}/calendars/{cal['id']}",
        headers=clinic.headers,
        json={"specialist_ids": [], "price_minor": 5000},
    )
    assert r.json()["specialist_ids"] == [] and r.json()["price_minor"] == 5000
    events = await _events(clinic)
    assert [e["type"] for e in events] == ["availability.changed"] * 2
    assert all(e["specialist_id"] is None for e in events)
    assert '"calendar_id"' in events[-1]["data"]
    r = await client.delete(f"{clinic.api}/calendars/{cal['id']}", headers=clinic.headers)
    assert r.status_code == 204


async def test_specialist_edits_only_own_availability(client, clinic):
    staff_id, headers = await _staff_token(client, clinic, "spec@clinic.test")
    mine = await _specialist(client, clinic, staff_user=staff_id)
    other = await _specialist(client, clinic, email="o@clinic.test")
    week = [{"isodow": 2, "start": "08:00", "end": "12:00"}]
    ok = await client.put(
        f"{clinic.api}/specialists/{mine['id']}/schedule", json=week, headers=headers
    )
    assert ok.status_code == 200, ok.text
    r = await client.put(
        f"{clinic.api}/specialists/{other['id']}/schedule", json=week, headers=headers
    )
    problem(r, 403, "not_your_availability")
    r = await client.post(
        f"{clinic.api}/specialists/{other['id']}/overrides",
        headers=headers,
        json={"start_date": "2026-12-01", "kind": "unavailable", "reason": "sick"},
    )
    problem(r, 403, "not_your_availability")
    r = await client.post(
        f"{clinic.api}/specialists/{mine['id']}/overrides",
        headers=headers,
        json={"start_date": "2026-12-01", "kind": "unavailable", "reason": "sick"},
    )
    assert r.status_code == 201
    # The admin edits anyone's; staff may read; admin-only routes refuse specialists.
    r = await client.put(
        f"{clinic.api}/specialists/{other['id']}/schedule", json=week, headers=clinic.headers
    )
    assert r.status_code == 200
    assert (await client.get(f"{clinic.api}/specialists", headers=headers)).status_code == 200
    problem(
        await client.post(
            f"{clinic.api}/closures", headers=headers, json={"start_date": "2026-12-31"}
        ),
        403,
        "admin_only",
    )
    problem(
        await client.post(
            f"{clinic.api}/services",
            headers=headers,
            json={"name": "S", "default_duration_minutes": 30},
        ),
        403,
    )
    problem(
        await client.patch(
            f"{clinic.api}/specialists/{mine['id']}", headers=headers, json={"active": False}
        ),
        403,
    )


async def test_other_clinics_token_is_401(client, clinic, make_clinic):
    other = await make_clinic()
    s = await _specialist(client, clinic)
    r = await client.put(
        f"{clinic.api}/specialists/{s['id']}/schedule", json=[], headers=other.headers
    )
    problem(r, 401)
    problem(await client.get(f"{clinic.api}/specialists"), 401)


async def test_openapi_documents_the_calendars_routes(client):
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200, r.text
    paths = r.json()["paths"]
    for path in (
        "/api/v1/clinics/{clinic}/specialists/{specialist_id}/schedule",
        "/api/v1/clinics/{clinic}/specialists/{specialist_id}/overrides",
        "/api/v1/clinics/{clinic}/closures",
        "/api/v1/clinics/{clinic}/calendars/{calendar_id}",
        "/api/v1/clinics/{clinic}/public/catalog",
        "/api/v1/clinics/{clinic}/public/calendars/{calendar_id}/slots",
        "/api/v1/clinics/{clinic}/public/calendars/by-slug/{slug}",
    ):
        assert path in paths, path
