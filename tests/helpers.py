"""Assertion helpers shared by tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import asyncpg
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


@asynccontextmanager
async def every_connection(pool: asyncpg.Pool) -> AsyncIterator[list[asyncpg.Connection]]:
    """Every open connection of ``pool``, borrowed at once (each given back on exit, even
    when one does not come free within 10 s)."""
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(pool.acquire(timeout=10))
            for _ in range(pool.get_size())
        ]
