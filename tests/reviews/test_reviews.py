"""Reviews: once per appointment, only after done, only by its patient; low-rating alerts
raised once and acknowledged with who, when and a note."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import UUID

import httpx

from carebook.tenancy import tenant_tx
from tests.bookings.lifecycle_support import act, book, move_to, outbox_jobs, staff_member
from tests.bookings.support import bookable, slot
from tests.conftest import Clinic, JobsRunning, LiveServer, wait_for
from tests.helpers import problem


async def done_appointment(
    client: httpx.AsyncClient, clinic: Clinic, hour: int = 10
) -> tuple[str, dict[str, str]]:
    setup = await bookable(clinic.tenant)
    appt = await book(client, clinic, setup, slot(clinic.tenant, days=3, hour=hour))
    await move_to(client, clinic, appt["appointment_id"], "done")
    return appt["appointment_id"], {"X-Manage-Token": appt["manage_token"]}


def review_url(clinic: Clinic, appointment_id: str) -> str:
    return f"{clinic.public}/appointments/{appointment_id}/review"


async def test_only_after_done_and_only_once(client: httpx.AsyncClient, clinic: Clinic) -> None:
    setup = await bookable(clinic.tenant)
    appt = await book(client, clinic, setup)
    aid, manage = appt["appointment_id"], {"X-Manage-Token": appt["manage_token"]}
    problem(await client.post(review_url(clinic, aid), headers=manage, json={"rating": 5}), 409,
            "review_not_open")  # fmt: skip
    await move_to(client, clinic, aid, "in_progress")
    problem(await client.post(review_url(clinic, aid), headers=manage, json={"rating": 5}), 409,
            "review_not_open")  # fmt: skip
    assert (await act(client, clinic, aid, "complete")).status_code == 200
    problem(await client.get(review_url(clinic, aid), headers=manage), 404, "review_not_found")
    too_long = {"rating": 5, "comment": "x" * 2001}
    for bad in ({"rating": 0}, {"rating": 6}, {"rating": "five"}, too_long, {"stars": 5}):
        problem(await client.post(review_url(clinic, aid), headers=manage, json=bad), 422)
    r = await client.post(review_url(clinic, aid), headers=manage,
                          json={"rating": 4, "comment": "  Kind and on time.  "})  # fmt: skip
    assert r.status_code == 201, r.text
    assert (r.json()["rating"], r.json()["comment"]) == (4, "Kind and on time.")
    problem(await client.post(review_url(clinic, aid), headers=manage, json={"rating": 1}), 409,
            "already_reviewed")  # fmt: skip
    assert (await client.get(review_url(clinic, aid), headers=manage)).json()["rating"] == 4


async def test_only_the_appointments_patient(
    client: httpx.AsyncClient, clinic: Clinic, make_clinic: Any
) -> None:
    aid, manage = await done_appointment(client, clinic)
    other_aid, other_manage = await done_appointment(client, clinic, hour=11)
    problem(await client.post(review_url(clinic, aid), json={"rating": 5}), 404,
            "appointment_not_found")  # fmt: skip
    problem(await client.post(review_url(clinic, aid), headers=other_manage, json={"rating": 1}),
            404, "appointment_not_found")  # fmt: skip
    other = await make_clinic()
    problem(await client.post(review_url(other, aid), headers=manage, json={"rating": 1}), 404)
    # Staff credentials are not a patient's.
    problem(await client.post(review_url(clinic, aid), headers=clinic.headers, json={"rating": 1}),
            404, "appointment_not_found")  # fmt: skip
    async with tenant_tx(clinic.tenant) as conn:
        assert await conn.fetchval("SELECT count(*) FROM reviews") == 0
    assert other_aid != aid


async def test_fifty_concurrent_submissions_make_one_review(
    client: httpx.AsyncClient, clinic: Clinic, live_server: LiveServer
) -> None:
    aid, manage = await done_appointment(client, clinic)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as live:
        responses = await asyncio.gather(*(
            live.post(review_url(clinic, aid), headers=manage, json={"rating": 1 + i % 5})
            for i in range(50)
        ))  # fmt: skip
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 49, codes
    assert all(r.json()["code"] == "already_reviewed" for r in responses if r.status_code == 409)
    winner = next(r.json() for r in responses if r.status_code == 201)
    async with tenant_tx(clinic.tenant) as conn:
        assert await conn.fetchval("SELECT count(*) FROM reviews") == 1
        alerts = await conn.fetchval("SELECT count(*) FROM review_alerts")
    assert alerts == (1 if winner["rating"] < 3 else 0)


async def _set_threshold(clinic: Clinic, value: int) -> None:
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute(
            "UPDATE public.tenants SET settings = settings || $2::jsonb WHERE schema_name = $1",
            clinic.tenant.schema, json.dumps({"low_rating_threshold": value}),
        )  # fmt: skip


async def test_low_rating_raises_one_alert_until_acknowledged(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    low, low_manage = await done_appointment(client, clinic, hour=9)
    ok, ok_manage = await done_appointment(client, clinic, hour=11)
    r = await client.post(review_url(clinic, low), headers=low_manage,
                          json={"rating": 2, "comment": "Waited an hour."})  # fmt: skip
    assert r.status_code == 201
    r = await client.post(review_url(clinic, ok), headers=ok_manage, json={"rating": 3})
    assert r.status_code == 201  # the default threshold is 3: a 3 is not below it
    [alert] = (await client.get(f"{clinic.api}/review-alerts", headers=clinic.headers)).json()
    assert (alert["appointment_id"], alert["rating"], alert["threshold"]) == (low, 2, 3)
    assert alert["comment"] == "Waited an hour." and alert["acknowledged_at"] is None
    jobs = [
        j for j in await outbox_jobs(clinic.tenant, low) if j["actor"] == "reviews.alert_admins"
    ]
    assert [j["args"]["alert_id"] for j in jobs] == [alert["id"]]
    assert [
        j for j in await outbox_jobs(clinic.tenant, ok) if j["actor"] == "reviews.alert_admins"
    ] == []
    # Only clinic admins see and acknowledge alerts.
    _, spec = await staff_member(clinic, "specialist", "spec@reviews.test")
    problem(await client.get(f"{clinic.api}/review-alerts", headers=spec), 403, "admin_only")
    ack = f"{clinic.api}/review-alerts/{alert['id']}/acknowledge"
    problem(await client.post(ack, headers=spec, json={}), 403, "admin_only")
    r = await client.post(ack, headers=clinic.headers, json={"note": "Called the patient."})
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["acknowledged_at"] and done["note"] == "Called the patient."
    me = (await client.get(f"{clinic.api}/me", headers=clinic.headers)).json()
    assert done["acknowledged_by"] == me["id"] and done["acknowledged_by_name"] == me["name"]
    problem(await client.post(ack, headers=clinic.headers, json={}), 409, "alert_acknowledged")
    assert (await client.get(f"{clinic.api}/review-alerts", headers=clinic.headers)).json() == []
    history = (await client.get(f"{clinic.api}/review-alerts?all=true",
                                headers=clinic.headers)).json()  # fmt: skip
    assert [a["id"] for a in history] == [alert["id"]]
    # The threshold is the clinic's setting.
    await _set_threshold(clinic, 5)
    high, high_manage = await done_appointment(client, clinic, hour=13)
    await client.post(review_url(clinic, high), headers=high_manage, json={"rating": 4})
    [new] = (await client.get(f"{clinic.api}/review-alerts", headers=clinic.headers)).json()
    assert (new["appointment_id"], new["threshold"]) == (high, 5)


async def test_actors_invite_and_notify(
    client: httpx.AsyncClient, clinic: Clinic, jobs_running: JobsRunning
) -> None:
    aid, manage = await done_appointment(client, clinic)

    async def invited() -> Any:
        async with tenant_tx(clinic.tenant) as conn:
            return await conn.fetchval(
                "SELECT invited_at FROM review_invitations WHERE appointment_id = $1", UUID(aid)
            )

    await wait_for(invited)
    r = await client.post(review_url(clinic, aid), headers=manage, json={"rating": 1})
    assert r.status_code == 201

    async def notified() -> Any:
        async with tenant_tx(clinic.tenant) as conn:
            return await conn.fetchval(
                "SELECT notified_at FROM review_alerts WHERE appointment_id = $1", UUID(aid)
            )

    await wait_for(notified)
