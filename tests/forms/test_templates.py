"""Form templates over the staff API: CRUD, versioning, roles, calendars' integrity."""

from __future__ import annotations

from uuid import uuid4

import asyncpg
import httpx
import pytest

from carebook.tenancy import tenant_tx
from tests.bookings.support import bookable
from tests.conftest import Clinic
from tests.forms.support import EVERY_TYPE, create_form, require_forms
from tests.helpers import problem


async def test_create_list_show(client: httpx.AsyncClient, clinic: Clinic) -> None:
    form = await create_form(client, clinic)
    assert form["version"] == 1 and form["phase"] == "intake" and not form["archived"]
    assert [f["type"] for f in form["fields"]] == [f["type"] for f in EVERY_TYPE]
    assert form["fields"][1]["help"] == "Operations"
    post = await create_form(client, clinic, "Report", "post_appointment")
    r = await client.get(f"{clinic.api}/forms", headers=clinic.headers)
    assert {f["id"] for f in r.json()} == {form["id"], post["id"]}
    r = await client.get(f"{clinic.api}/forms?phase=intake", headers=clinic.headers)
    assert [f["id"] for f in r.json()] == [form["id"]]
    r = await client.get(f"{clinic.api}/forms/{form['id']}", headers=clinic.headers)
    assert r.json() == form
    problem(await client.get(f"{clinic.api}/forms/{uuid4()}", headers=clinic.headers), 404,
            "form_not_found")  # fmt: skip


async def test_invalid_templates_are_422(client: httpx.AsyncClient, clinic: Clinic) -> None:
    bad = [
        {"key": "a", "type": "single_choice", "label": "A", "options": ["x"]},
        {"key": "a", "type": "text", "label": "B"},
    ]
    body = problem(
        await client.post(f"{clinic.api}/forms", headers=clinic.headers,
                          json={"name": "X", "phase": "intake", "fields": bad}),
        422, "invalid_fields",
    )  # fmt: skip
    assert {e["field"] for e in body["errors"]} == {"fields[0].options", "fields[1].key"}
    for payload in (
        {"name": "X", "phase": "later", "fields": EVERY_TYPE},
        {"name": "X", "phase": "intake", "fields": []},
        {"name": "X", "phase": "intake", "fields": [{"key": "A B", "type": "text", "label": "x"}]},
        {"name": "X", "phase": "intake", "fields": [{"key": "a", "type": "colour", "label": "x"}]},
    ):
        problem(await client.post(f"{clinic.api}/forms", headers=clinic.headers, json=payload),
                422)  # fmt: skip


async def test_edit_makes_a_new_version(client: httpx.AsyncClient, clinic: Clinic) -> None:
    form = await create_form(client, clinic)
    url = f"{clinic.api}/forms/{form['id']}"
    same = {"name": form["name"], "fields": EVERY_TYPE}
    r = await client.put(url, headers=clinic.headers, json=same)
    assert r.json()["version"] == 1  # nothing changed, no new version
    changed = {"name": "Intake v2", "fields": [*EVERY_TYPE[:2],
               {"key": "extra", "type": "text", "label": "New question"}]}  # fmt: skip
    r = await client.put(url, headers=clinic.headers, json=changed)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["name"] == "Intake v2"
    old = (await client.get(f"{url}?version=1", headers=clinic.headers)).json()
    assert old["name"] == "Intake" and len(old["fields"]) == len(EVERY_TYPE)
    # Versions are append-only in the database too.
    async with tenant_tx(clinic.tenant) as conn:
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await conn.execute("UPDATE form_template_versions SET name = 'x'")


async def test_only_admins_change_templates(client: httpx.AsyncClient, clinic: Clinic) -> None:
    r = await client.post(
        f"{clinic.api}/staff", headers=clinic.headers,
        json={"email": "spec@x.test", "name": "Spec", "role": "specialist"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    r = await client.post(f"{clinic.api}/staff/{r.json()['id']}/tokens", headers=clinic.headers,
                          json={"name": "t"})  # fmt: skip
    spec = {"Authorization": f"Bearer {r.json()['token']}"}
    problem(await client.post(f"{clinic.api}/forms", headers=spec,
                              json={"name": "X", "phase": "intake", "fields": EVERY_TYPE}),
            403, "admin_only")  # fmt: skip
    assert (await client.get(f"{clinic.api}/forms", headers=spec)).status_code == 200


async def test_calendars_require_existing_intake_forms(
    client: httpx.AsyncClient, clinic: Clinic, make_clinic: object
) -> None:
    setup = await bookable(clinic.tenant)
    intake = await create_form(client, clinic)
    post = await create_form(client, clinic, "Report", "post_appointment")
    for ids in ([str(uuid4())], [post["id"]], [intake["id"], intake["id"]]):
        body = problem(await require_forms(client, clinic, setup, ids), 422, "unknown_form")
        assert body["errors"][0]["field"] == "required_form_ids"
    other = await make_clinic()  # type: ignore[operator]
    foreign = await create_form(client, other)
    problem(await require_forms(client, clinic, setup, [foreign["id"]]), 422, "unknown_form")
    r = await require_forms(client, clinic, setup, [intake["id"]])
    assert r.status_code == 200 and r.json()["required_form_ids"] == [intake["id"]]
    # Direct SQL cannot break it either.
    async with tenant_tx(clinic.tenant) as conn:
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="unknown_form"):
            await conn.execute("UPDATE calendars SET required_form_ids = $1", [uuid4()])
    # A required form cannot be archived; once released it can, and then not required.
    body = problem(await client.delete(f"{clinic.api}/forms/{intake['id']}",
                                       headers=clinic.headers), 409, "form_in_use")  # fmt: skip
    assert body["calendars"] == [str(setup.calendar_id)]
    assert (await require_forms(client, clinic, setup, [])).status_code == 200
    r = await client.delete(f"{clinic.api}/forms/{intake['id']}", headers=clinic.headers)
    assert r.status_code == 204
    problem(await require_forms(client, clinic, setup, [intake["id"]]), 422, "unknown_form")
    edit = {"name": "x", "fields": EVERY_TYPE}
    r = await client.put(f"{clinic.api}/forms/{intake['id']}", headers=clinic.headers, json=edit)
    problem(r, 409, "form_archived")
    r = await client.get(f"{clinic.api}/forms?archived=true", headers=clinic.headers)
    assert any(f["id"] == intake["id"] and f["archived"] for f in r.json())
