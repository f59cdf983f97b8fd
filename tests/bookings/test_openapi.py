"""The bookings routes are in the OpenAPI document with their bodies and problem answers."""

from __future__ import annotations

import httpx


async def test_routes_document_bodies_and_problems(client: httpx.AsyncClient) -> None:
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    hold = paths["/api/v1/clinics/{clinic}/public/holds"]["post"]
    assert "requestBody" in hold
    assert {"201", "404", "409", "422", "429"} <= set(hold["responses"])
    assert "slot_unavailable" in hold["responses"]["409"]["description"]
    release = paths["/api/v1/clinics/{clinic}/public/holds/{hold_id}"]["delete"]
    assert "X-Hold-Token" in [p["name"] for p in release["parameters"]]
    assert {"204", "401", "403", "404"} <= set(release["responses"])
    booking = paths["/api/v1/clinics/{clinic}/public/bookings"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in booking["parameters"]]
    assert "idempotency_key_reused" in booking["responses"]["422"]["description"]
    assert "hold_expired" in booking["responses"]["409"]["description"]
    day = paths["/api/v1/clinics/{clinic}/appointments"]["get"]
    assert {"date", "specialist_id", "status", "tz"} <= {p["name"] for p in day["parameters"]}
