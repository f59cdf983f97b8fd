"""Assertion helpers shared by tests."""

from __future__ import annotations

from typing import Any

import httpx

from carebook.tenancy import Tenant, tenant_tx


def problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert an RFC 9457 problem response and return its body."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
    return body


async def tenant_backend_pid(tenant: Tenant) -> int:
    """The PostgreSQL backend that served a tenant transaction (which pooled connection)."""
    async with tenant_tx(tenant) as conn:
        pid: int = await conn.fetchval("SELECT pg_backend_pid()")
    return pid
