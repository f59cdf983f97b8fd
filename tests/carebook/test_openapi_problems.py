"""Every public API route is rate limited, and its OpenAPI entry says so (429 problem)."""

from __future__ import annotations

import httpx


async def test_every_public_route_documents_its_429(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    public = {
        (method.upper(), path): op
        for path, item in paths.items()
        if "/public/" in path
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert len(public) >= 7  # catalog, by-slug, slots, events, hold, release, booking
    missing = [key for key, op in public.items() if "429" not in op.get("responses", {})]
    assert missing == []
    for op in public.values():
        answer = op["responses"]["429"]
        assert "rate_limited" in answer["description"]
        assert "application/problem+json" in answer["content"]
