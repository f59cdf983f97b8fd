"""Staff authentication: API tokens, sessions with CSRF, suspension, problem details."""

from __future__ import annotations

import asyncpg

from carebook.settings import direct_database_url
from carebook.tenancy import tenant_tx
from tenants import staff as staff_store
from tests.helpers import problem


async def test_wrong_token_is_401(client, clinic):
    r = await client.get(f"{clinic.api}/me", headers={"Authorization": "Bearer cbk_nope"})
    problem(r, 401, "invalid_token")
    problem(await client.get(f"{clinic.api}/me"), 401, "unauthorized")


async def test_other_clinics_token_is_401(client, make_clinic):
    a, b = await make_clinic(), await make_clinic()
    problem(await client.get(f"{b.api}/me", headers=a.headers), 401, "invalid_token")
    problem(await client.get(f"{b.api}/staff", headers=a.headers), 401, "invalid_token")


async def test_revoked_token_is_401(client, clinic):
    r = await client.post(f"{clinic.api}/tokens/", json={"name": "ci"}, headers=clinic.headers)
    assert r.status_code == 201, r.text
    issued = r.json()
    headers = {"Authorization": f"Bearer {issued['token']}"}
    assert (await client.get(f"{clinic.api}/me", headers=headers)).status_code == 200
    r = await client.delete(f"{clinic.api}/tokens/{issued['id']}", headers=headers)
    assert r.status_code == 204
    problem(await client.get(f"{clinic.api}/me", headers=headers), 401, "invalid_token")
    listed = await client.get(f"{clinic.api}/tokens/", headers=clinic.headers)
    assert all("token" not in t or t["token"] is None for t in listed.json())


async def test_tokens_are_long_random_and_stored_hashed(client, clinic):
    assert clinic.token.startswith("cbk_") and len(clinic.token) >= 4 + 43  # 256 bits base64
    conn = await asyncpg.connect(direct_database_url())
    try:
        rows = await conn.fetch(f'SELECT token_hash FROM "{clinic.tenant.schema}".staff_api_tokens')
        assert rows and all(len(r["token_hash"]) == 32 for r in rows)
        dump = str(await conn.fetch(f'SELECT * FROM "{clinic.tenant.schema}".staff_api_tokens'))
        assert clinic.token not in dump and clinic.token[4:] not in dump
    finally:
        await conn.close()


async def test_specialist_cannot_do_admin_things(client, clinic):
    r = await client.post(
        f"{clinic.api}/staff",
        json={"email": "spec@x.test", "name": "Spec", "role": "specialist"},
        headers=clinic.headers,
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"{clinic.api}/staff/{r.json()['id']}/tokens", json={"name": "t"}, headers=clinic.headers
    )
    spec_headers = {"Authorization": f"Bearer {r.json()['token']}"}
    assert (await client.get(f"{clinic.api}/me", headers=spec_headers)).json()[
        "role"
    ] == "specialist"
    problem(await client.get(f"{clinic.api}/staff", headers=spec_headers), 403, "admin_only")


async def test_session_login_requires_csrf_header_for_changes(client, clinic):
    async with tenant_tx(clinic.tenant) as conn:
        await staff_store.set_password(conn, f"admin@{clinic.slug}.test", "correct horse battery")
    problem(
        await client.post(
            f"{clinic.api}/auth/login",
            json={"email": f"admin@{clinic.slug}.test", "password": "wrong password!"},
        ),
        401,
        "bad_credentials",
    )
    r = await client.post(
        f"{clinic.api}/auth/login",
        json={"email": f"ADMIN@{clinic.slug}.test", "password": "correct horse battery"},
    )
    assert r.status_code == 200, r.text
    csrf = r.json()["csrf_token"]
    cookie = r.cookies.get("carebook_staff")
    set_cookie = r.headers["set-cookie"].lower()
    assert cookie and "httponly" in set_cookie and "samesite=lax" in set_cookie
    # The client keeps the session cookie like a browser does (and forgets it at the end).
    assert client.cookies.get("carebook_staff") == cookie
    try:
        me = await client.get(f"{clinic.api}/me")
        assert me.status_code == 200 and me.json()["role"] == "admin"
        body = {"email": "n@x.test", "name": "N", "role": "specialist"}
        problem(await client.post(f"{clinic.api}/staff", json=body), 403, "csrf_failed")
        r = await client.post(f"{clinic.api}/staff", json=body, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 201, r.text
    finally:
        client.cookies.clear()


async def test_suspended_clinic_staff_403_public_404(client, clinic, platform_token):
    ph = {"Authorization": f"Bearer {platform_token}"}
    r = await client.post(f"/api/v1/platform/tenants/{clinic.slug}/suspend", headers=ph)
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    problem(await client.get(f"{clinic.api}/me", headers=clinic.headers), 403, "clinic_suspended")
    problem(await client.get(f"{clinic.public}/catalog"), 404, "clinic_unavailable")
    r = await client.post(f"/api/v1/platform/tenants/{clinic.slug}/reactivate", headers=ph)
    assert r.json()["status"] == "active"
    assert (await client.get(f"{clinic.api}/me", headers=clinic.headers)).status_code == 200


async def test_unknown_clinic_is_404_problem(client):
    problem(await client.get("/api/v1/clinics/no-such-clinic/me"), 404, "clinic_not_found")
    problem(
        await client.get("/api/v1/clinics/NOT%20A%20SLUG/public/catalog"), 404, "clinic_not_found"
    )


async def test_unknown_route_and_bad_json_are_problems(client, clinic):
    problem(await client.get("/api/v1/nothing-here"), 404, "not_found")
    r = await client.post(
        f"{clinic.api}/staff",
        content=b"{not json",
        headers={**clinic.headers, "content-type": "application/json"},
    )
    assert r.status_code in (400, 422)
    problem(r, r.status_code)
    r = await client.post(f"{clinic.api}/staff", json={"email": "bad", "name": ""},
                          headers=clinic.headers)  # fmt: skip
    body = problem(r, 422, "validation_failed")
    assert body["errors"]


async def test_openapi_schema_is_served(client):
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    assert "/api/v1/platform/tenants" in paths
    assert any(p.startswith("/api/v1/clinics/{clinic}") for p in paths)


async def test_admin_redirects_and_serves_piccolo_admin(client):
    r = await client.get("/admin")
    assert r.status_code in (301, 302, 307, 308) and r.headers["location"] == "/admin/"
    r = await client.get("/admin/")
    assert r.status_code == 200 and "<html" in r.text.lower()
