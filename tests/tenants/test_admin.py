"""Piccolo admin cannot break tenancy: driven through its own HTTP endpoints (issue 16).

Creating a clinic goes through onboarding (the "Onboard a clinic" form; "Add row" is
refused), slug and schema are read-only, status is a choice list, suspension and
reactivation are actions, rows are never deleted, and every clinic's page keeps working.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from carebook.tenancy import tenant_tx
from tenants.service import find_tenant
from tests.conftest import Clinic, unique_slug
from tests.factories import add_calendar, add_specialist
from tests.web.test_pages import book_first_slot, is_html

ADMIN_USER, ADMIN_PASSWORD = "root", "root-password-1"


class Admin:
    """A signed-in Piccolo admin session (session cookie + Piccolo's CSRF token)."""

    def __init__(self, client: httpx.AsyncClient, csrf: str) -> None:
        self.client, self.csrf = client, csrf

    async def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return await self.client.request(
            method, f"/admin/api{path}", json=body, headers={"X-CSRFToken": self.csrf}
        )

    async def form(self, name: str, body: dict[str, Any]) -> httpx.Response:
        return await self.call("POST", f"/forms/{name}/", body)

    async def tenant_row(self, slug: str) -> dict[str, Any]:
        r = await self.client.get(
            "/admin/api/tables/tenants/", params={"slug": slug, "slug__match": "exact"}
        )
        assert r.status_code == 200, r.text
        rows = r.json()["rows"]
        assert len(rows) == 1, rows
        row: dict[str, Any] = rows[0]
        return row


@pytest.fixture
async def admin(client: httpx.AsyncClient, platform_token: str) -> AsyncIterator[Admin]:
    # Its own cookie jar: the shared client must not carry the admin session to other tests.
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as own:
        yield await sign_in(own)


async def sign_in(client: httpx.AsyncClient) -> Admin:
    r = await client.get("/admin/")
    assert r.status_code == 200
    csrf = client.cookies.get("csrftoken")
    assert csrf
    r = await client.post(
        "/admin/public/login/",
        json={"username": ADMIN_USER, "password": ADMIN_PASSWORD},
        headers={"X-CSRFToken": csrf},
    )
    assert r.status_code in (200, 303), r.text
    assert client.cookies.get("id")
    return Admin(client, csrf)


async def clinic_pages_work(client: httpx.AsyncClient, slug: str) -> None:
    is_html(await client.get(f"/c/{slug}/"), 200)
    r = await client.get(f"/api/v1/clinics/{slug}/public/catalog")
    assert r.status_code == 200, r.text


async def test_add_row_is_refused_and_the_onboarding_form_creates_a_working_clinic(
    client: httpx.AsyncClient, admin: Admin
) -> None:
    slug = unique_slug("adm")
    r = await admin.call(
        "POST",
        "/tables/tenants/",
        {"slug": slug, "schema_name": f"clinic_{slug}", "name": "Raw", "timezone": "UTC",
         "settings": "{}", "status": "active", "created_at": "2026-01-01T00:00:00Z"},
    )  # fmt: skip
    assert r.status_code == 405 and "Onboard a clinic" in r.text
    r = await client.get(f"/api/v1/clinics/{slug}/public/catalog")
    assert r.status_code == 404  # no half-made clinic

    r = await admin.form(
        "onboard-a-clinic",
        {"slug": slug, "name": "Admin Made", "timezone": "Europe/Paris",
         "admin_email": f"boss@{slug}.test"},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    message = r.json()["custom_form_success"]
    token = message.rsplit(" ", 1)[-1]
    assert token.startswith("cbk_")
    await clinic_pages_work(client, slug)
    r = await client.get(f"/api/v1/clinics/{slug}/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["role"] == "admin"

    # The same slug again, or a bad one, is a message in the form, not a half-made clinic.
    r = await admin.form("onboard-a-clinic", {"slug": slug, "name": "Again", "timezone": "UTC",
                                              "admin_email": "a@b.test"})  # fmt: skip
    assert r.status_code == 422 and "taken" in r.json()["custom_form_error"]
    r = await admin.form("onboard-a-clinic", {"slug": "Bad Slug", "name": "X", "timezone": "UTC",
                                              "admin_email": "a@b.test"})  # fmt: skip
    assert r.status_code == 422 and "slug" in r.json()["custom_form_error"]


async def test_edits_keep_slug_and_schema_and_validate_status_zone_settings(
    client: httpx.AsyncClient, admin: Admin, clinic: Clinic
) -> None:
    row = await admin.tenant_row(clinic.slug)
    path = f"/tables/tenants/{row['id']}/"
    for change, needle in (
        ({"slug": "renamed-clinic"}, "read-only"),
        ({"schema_name": "clinic_other"}, "read-only"),
        ({"status": "paused"}, "status must be one of"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"settings": '{"hold_minutes": "ten"}'}, "settings.hold_minutes"),
        ({"settings": '{"nope": 1}'}, "unknown key"),
        ({"settings": "[1]"}, "JSON object"),
        ({"name": ""}, "name"),
    ):
        r = await admin.call("PATCH", path, change)
        assert r.status_code == 422, (change, r.status_code, r.text)
        assert needle in r.json()["detail"], (change, r.text)
    await clinic_pages_work(client, clinic.slug)

    # The edit form sends the whole row back: unchanged read-only fields are fine.
    r = await admin.call(
        "PATCH",
        path,
        {**{k: row[k] for k in ("slug", "schema_name")}, "name": "Renamed Clinic",
         "timezone": "Asia/Tokyo", "settings": '{"hold_minutes": 7}'},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    tenant = await find_tenant(clinic.slug)
    assert (tenant.name, tenant.timezone, tenant.schema) == (
        "Renamed Clinic",
        "Asia/Tokyo",
        clinic.tenant.schema,
    )
    assert tenant.settings.hold_minutes == 7
    is_html(await client.get(f"/c/{clinic.slug}/"), 200)
    assert "Renamed Clinic" in (await client.get(f"/c/{clinic.slug}/")).text
    r = await client.get(f"/api/v1/clinics/{clinic.slug}/public/catalog")
    assert r.status_code == 200

    # Neither replacing nor deleting a clinic row is possible.
    assert (await admin.call("PUT", path, {**row, "name": "X"})).status_code == 405
    r = await admin.call("DELETE", path)
    assert r.status_code == 405 and "Suspend" in r.text
    assert (await admin.call("DELETE", "/tables/tenants/")).status_code == 405
    await clinic_pages_work(client, clinic.slug)

    # The schema offers the status as a choice list.
    r = await admin.call("GET", "/tables/tenants/schema/")
    status = r.json()["properties"]["status"]
    choices = status.get("extra", {}).get("choices") or status.get("choices")
    assert choices and {c["value"] for c in choices.values()} == {"active", "suspended"}


async def test_suspension_and_reactivation_as_actions(
    client: httpx.AsyncClient, admin: Admin, clinic: Clinic
) -> None:
    sid = await add_specialist(clinic.tenant, name="Dr Pause")
    cal = await add_calendar(clinic.tenant, [sid], name="Checkup")
    booked = await book_first_slot(client, clinic, cal["id"])
    manage = httpx.URL(booked["manage_url"])

    r = await admin.form("suspend-a-clinic", {"slug": clinic.slug})
    assert r.status_code == 200 and "suspended" in r.json()["custom_form_success"]

    # Patients: a friendly page, no booking; staff: refused.
    html = is_html(await client.get(f"/c/{clinic.slug}/"), 404)
    assert "not taking bookings" in html
    r = await client.get(f"/api/v1/clinics/{clinic.slug}/public/catalog")
    assert r.status_code == 404 and r.json()["code"] == "clinic_unavailable"
    r = await client.get(f"{clinic.api}/me", headers=clinic.headers)
    assert r.status_code == 403 and r.json()["code"] == "clinic_suspended"

    # The existing patient's manage link explains what happened; a wrong token learns nothing.
    r = await client.get(manage.path, params=manage.params)
    html = is_html(r, 200)
    assert "not available online" in html and "does not cancel" in html
    assert r.headers["cache-control"] == "no-store"
    bad = is_html(await client.get(manage.path, params={"token": "x" * 43}), 404)
    assert "not available online" not in bad and "not taking bookings" in bad

    # Suspending twice is harmless; an unknown clinic is a message.
    r = await admin.form("suspend-a-clinic", {"slug": clinic.slug})
    assert r.status_code == 200
    r = await admin.form("suspend-a-clinic", {"slug": "no-such-clinic"})
    assert r.status_code == 422 and "no-such-clinic" in r.json()["custom_form_error"]

    r = await admin.form("reactivate-a-clinic", {"slug": clinic.slug})
    assert r.status_code == 200 and "active" in r.json()["custom_form_success"]
    await clinic_pages_work(client, clinic.slug)
    r = await client.get(manage.path, params=manage.params)
    assert "Checkup" in is_html(r, 200)

    # Status through the edit form's choice list works the same way.
    row = await admin.tenant_row(clinic.slug)
    r = await admin.call("PATCH", f"/tables/tenants/{row['id']}/", {"status": "suspended"})
    assert r.status_code == 200, r.text
    is_html(await client.get(f"/c/{clinic.slug}/"), 404)
    await admin.call("PATCH", f"/tables/tenants/{row['id']}/", {"status": "active"})
    await clinic_pages_work(client, clinic.slug)


async def test_usage_per_clinic(
    client: httpx.AsyncClient, admin: Admin, clinic: Clinic, platform_token: str
) -> None:
    sid = await add_specialist(clinic.tenant, name="Dr Usage")
    cal = await add_calendar(clinic.tenant, [sid], name="Usage visit")
    await book_first_slot(client, clinic, cal["id"])
    async with tenant_tx(clinic.tenant) as conn:
        expected = await conn.fetchval(
            """SELECT count(*) FROM appointments WHERE status NOT IN ('held','released','expired')
               AND starts_at >= date_trunc('month', now(), $1)
               AND starts_at < date_trunc('month', now(), $1) + interval '1 month'""",
            clinic.tenant.timezone,
        )

    auth = {"Authorization": f"Bearer {platform_token}"}
    r = await client.get(f"/api/v1/platform/tenants/{clinic.slug}/usage", headers=auth)
    assert r.status_code == 200, r.text
    usage = r.json()
    assert usage["appointments_this_month"] == expected
    assert usage["active_staff"] == 1
    assert usage["last_activity"] is not None
    assert usage["schema_bytes"] > 100_000
    r = await client.get("/api/v1/platform/usage", params={"limit": 1000}, headers=auth)
    assert r.status_code == 200
    assert any(u["slug"] == clinic.slug for u in r.json())
    assert (await client.get("/api/v1/platform/usage")).status_code == 401
    # The admin session may read it (the sidebar link).
    assert (await admin.client.get("/api/v1/platform/usage")).status_code == 200
    r = await client.get(f"/api/v1/platform/tenants/{clinic.slug}/usage",
                         headers={"Authorization": "Bearer nope"})  # fmt: skip
    assert r.status_code == 401

    r = await admin.form("clinic-usage", {"slug": clinic.slug})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["slug"] for row in rows] == [clinic.slug]
    assert int(rows[0]["appointments_this_month"]) == expected
    assert int(rows[0]["schema_bytes"]) == usage["schema_bytes"]
