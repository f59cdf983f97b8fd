"""Onboarding, platform API, migrations."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from carebook import migrations
from carebook.migrations import TenantMigration, migrate_all
from carebook.settings import direct_database_url
from tests.conftest import unique_slug
from tests.helpers import problem


async def _schema_exists(name: str) -> bool:
    conn = await asyncpg.connect(direct_database_url())
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", name))
    finally:
        await conn.close()


async def test_platform_onboards_clinic_and_returns_one_time_token(client, platform_token):
    slug = unique_slug()
    r = await client.post(
        "/api/v1/platform/tenants",
        json={"slug": slug, "name": "Physio One", "timezone": "Europe/Berlin",
              "admin_email": "boss@physio.test"},
        headers={"Authorization": f"Bearer {platform_token}"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["clinic"]["slug"] == slug
    assert body["clinic"]["settings"]["hold_minutes"] == 10
    token = body["admin_token"]
    assert len(token) >= 40
    me = await client.get(
        f"/api/v1/clinics/{slug}/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert me.status_code == 200, me.text
    assert me.json()["role"] == "admin"
    assert await _schema_exists(f"clinic_{slug}")


async def test_duplicate_slug_is_409(client, platform_token):
    slug = unique_slug()
    payload = {"slug": slug, "name": "A", "timezone": "UTC", "admin_email": "a@a.test"}
    headers = {"Authorization": f"Bearer {platform_token}"}
    assert (
        await client.post("/api/v1/platform/tenants", json=payload, headers=headers)
    ).status_code == 201
    r = await client.post("/api/v1/platform/tenants", json=payload, headers=headers)
    problem(r, 409, "slug_taken")


@pytest.mark.parametrize("slug", ["ab", "1abc", "Abc", "a_bc", "admin", "x" * 41, "ab c", "public"])
async def test_bad_slugs_are_422(client, platform_token, slug):
    r = await client.post(
        "/api/v1/platform/tenants",
        json={"slug": slug, "name": "A", "timezone": "UTC", "admin_email": "a@a.test"},
        headers={"Authorization": f"Bearer {platform_token}"},
    )
    body = problem(r, 422)
    assert any(e["field"] == "slug" for e in body["errors"]), body


@pytest.mark.parametrize("tz", ["Mars/Olympus", "EST5EDT+", "", "../../etc/passwd"])
async def test_bad_timezones_are_422(client, platform_token, tz):
    r = await client.post(
        "/api/v1/platform/tenants",
        json={"slug": unique_slug(), "name": "A", "timezone": tz, "admin_email": "a@a.test"},
        headers={"Authorization": f"Bearer {platform_token}"},
    )
    body = problem(r, 422, "invalid_timezone")
    assert body["errors"][0]["field"] == "timezone"


async def test_platform_routes_need_platform_token(client, clinic):
    problem(await client.get("/api/v1/platform/tenants"), 401)
    # A clinic admin token is not a platform token.
    problem(await client.get("/api/v1/platform/tenants", headers=clinic.headers), 401)


async def test_onboarding_rolls_back_completely_when_a_step_fails(monkeypatch):
    from tenants.service import onboard_clinic

    broken = (*migrations.tenant_migrations(), TenantMigration("9999_broken", "test", "SELECT 1/0"))
    monkeypatch.setattr("carebook.migrations.tenant_migrations", lambda: broken)
    slug = unique_slug()
    with pytest.raises(asyncpg.DivisionByZeroError):
        await onboard_clinic(slug=slug, name="X", timezone="UTC", admin_email="x@x.test")
    assert not await _schema_exists(f"clinic_{slug}")
    conn = await asyncpg.connect(direct_database_url())
    try:
        assert await conn.fetchval("SELECT count(*) FROM tenants WHERE slug = $1", slug) == 0
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM tenant_schema_migrations WHERE schema_name = $1",
                f"clinic_{slug}",
            )
            == 0
        )
    finally:
        await conn.close()


async def test_migrate_twice_is_a_noop(clinic):
    await migrate_all(direct_database_url())
    report = await migrate_all(direct_database_url())
    assert report.migrations_applied == 0
    assert report.tenants_changed == 0


async def test_concurrent_migrators_apply_each_migration_once(make_clinic, monkeypatch):
    clinics = [await make_clinic() for _ in range(3)]
    extra = TenantMigration("9000_test_extra", "test", "CREATE TABLE migration_probe (id int)")
    more = (*migrations.tenant_migrations(), extra)
    monkeypatch.setattr("carebook.migrations.tenant_migrations", lambda: more)
    reports = await asyncio.gather(
        migrate_all(direct_database_url()), migrate_all(direct_database_url())
    )
    conn = await asyncpg.connect(direct_database_url())
    try:
        n_tenants = await conn.fetchval("SELECT count(*) FROM tenants")
        assert sum(r.migrations_applied for r in reports) == n_tenants
        assert sorted(r.migrations_applied for r in reports)[0] == 0
        for c in clinics:
            assert (
                await conn.fetchval(
                    f"SELECT count(*) FROM information_schema.tables "
                    f"WHERE table_schema = '{c.tenant.schema}' AND table_name = 'migration_probe'"
                )
                == 1
            )
        # Leave no trace for other tests: drop the probe and its records.
        for schema in await conn.fetch("SELECT schema_name FROM tenants"):
            await conn.execute(f'DROP TABLE IF EXISTS "{schema[0]}".migration_probe')
        await conn.execute("DELETE FROM tenant_schema_migrations WHERE migration_id = $1", extra.id)
    finally:
        await conn.close()
