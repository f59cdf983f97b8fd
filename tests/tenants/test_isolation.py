"""Tenant isolation, checked over every staff route the app has (new routes are covered too).

Clinic A's token is used (1) on clinic B's slug and (2) on A's own slug with B's ids; neither
may succeed or reveal any of B's rows.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from litestar.routes import HTTPRoute

from carebook.app import create_app
from carebook.tenancy import tenant_tx
from tests.factories import add_calendar, add_specialist

PARAM = re.compile(r"{(\w+)(?::(\w+))?}")
SAMPLE = {"str": "x", "int": "1", "date": "2026-01-05", "path": "x"}


def staff_routes() -> list[tuple[str, str]]:
    out = []
    for route in create_app().routes:
        if not isinstance(route, HTTPRoute):
            continue
        path = route.path
        if not path.startswith("/api/v1/clinics/{clinic") or "/public" in path:
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            out.append((method, path))
    return out


def fill(path: str, values: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        name, kind = m.group(1), m.group(2) or "str"
        if name in values:
            return values[name]
        return str(uuid.uuid4()) if kind == "uuid" else SAMPLE.get(kind, "x")

    return PARAM.sub(sub, path)


async def _b_ids(b: Any) -> dict[str, str]:
    secret = f"SECRET-B-{uuid.uuid4().hex[:6]}"
    spec = await add_specialist(b.tenant, name=secret)
    cal = await add_calendar(b.tenant, [spec], name=secret)
    async with tenant_tx(b.tenant) as conn:
        staff_id = await conn.fetchval("SELECT id FROM staff_users LIMIT 1")
        token_id = await conn.fetchval("SELECT id FROM staff_api_tokens LIMIT 1")
    return {
        "secret": secret,
        "specialist_id": str(spec),
        "calendar_id": str(cal["id"]),
        "service_id": str(cal["service_id"]),
        "staff_id": str(staff_id),
        "token_id": str(token_id),
    }


async def test_there_are_staff_routes_to_check():
    assert len(staff_routes()) >= 5


async def test_clinic_a_token_on_clinic_b_slug_is_refused_everywhere(client, make_clinic):
    a, b = await make_clinic(), await make_clinic()
    ids = await _b_ids(b)
    for method, path in staff_routes():
        if path.endswith("/auth/login"):
            continue  # sign-in takes credentials, not a token
        url = fill(path, {"clinic": b.slug, **ids})
        r = await client.request(
            method, url, headers=a.headers, json={} if method in {"POST", "PUT", "PATCH"} else None
        )
        assert r.status_code in (401, 403), (method, url, r.status_code, r.text[:200])
        assert ids["secret"] not in r.text


async def test_clinic_b_ids_on_clinic_a_slug_never_reveal_b(client, make_clinic):
    a, b = await make_clinic(), await make_clinic()
    ids = await _b_ids(b)
    for method, path in staff_routes():
        if path.endswith("/staff/events"):
            continue  # an endless stream of A's own events (ids only): see test_staff_pages
        url = fill(path, {"clinic": a.slug, **ids})
        r = await client.request(
            method, url, headers=a.headers, json={} if method in {"POST", "PUT", "PATCH"} else None
        )
        assert r.status_code < 500, (method, url, r.status_code, r.text[:300])
        assert ids["secret"] not in r.text, (method, url)
        if method == "GET" and r.status_code == 200:
            for key in ("specialist_id", "calendar_id", "service_id", "staff_id", "token_id"):
                assert ids[key] not in r.text, (method, url, key)
