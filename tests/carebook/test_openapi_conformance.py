"""The OpenAPI document says what the API does (issue 17.4), checked quickly in-process;
tests/carebook/test_schemathesis.py fuzzes it against a live server."""

from __future__ import annotations

import httpx

from tests.conftest import Clinic
from tests.helpers import problem

PROBLEM = "application/problem+json"
METHODS = ("get", "post", "put", "patch", "delete")


async def _document(client: httpx.AsyncClient) -> dict:  # type: ignore[type-arg]
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


async def test_staff_and_platform_routes_document_their_problems(client: httpx.AsyncClient) -> None:
    doc = await _document(client)
    staff = platform = 0
    for path, item in doc["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            responses = op["responses"]
            for status, answer in responses.items():
                if status.startswith("4"):
                    assert list(answer["content"]) == [PROBLEM], (method, path, status)
                    assert answer["content"][PROBLEM]["schema"] == {
                        "$ref": "#/components/schemas/Problem"
                    }
            if path.startswith("/api/v1/platform"):
                platform += 1
                assert {"401", "403"} <= set(responses), (method, path)
                assert {"platformBearer": []} in op["security"]
            elif path.startswith("/api/v1/clinics/{clinic}/") and "/public" not in path:
                if path.endswith("/auth/login"):
                    assert {"401", "404", "429"} <= set(responses)
                    continue
                staff += 1
                assert {"401", "403", "404"} <= set(responses), (method, path)
                assert op["security"] == [{"staffBearer": []}, {"staffSession": []}]
                if method != "get":
                    assert "409" in responses, (method, path)
            if "requestBody" in op:
                assert {"400", "413", "422"} <= set(responses), (method, path)
    assert staff >= 20 and platform >= 5
    schemes = doc["components"]["securitySchemes"]
    assert schemes["staffBearer"]["scheme"] == "bearer"
    assert schemes["staffSession"] == {**schemes["staffSession"], "in": "cookie",
                                       "name": "carebook_staff"}  # fmt: skip
    example = doc["components"]["schemas"]["Problem"]["example"]
    assert example["code"] == "validation_failed" and example["errors"][0]["field"] == "start"


async def test_request_schemas_are_exact(client: httpx.AsyncClient) -> None:
    schemas = (await _document(client))["components"]["schemas"]
    assert schemas["SpecialistPatch"]["additionalProperties"] is False
    assert schemas["SpecialistPatch"]["properties"]["buffer_minutes"]["minimum"] == 0
    assert schemas["PatientIn"]["additionalProperties"] is False


async def test_bodies_are_held_to_json_types(client: httpx.AsyncClient, clinic: Clinic) -> None:
    url = f"{clinic.api}/services"
    body = {"name": "Check-up", "default_duration_minutes": 30, "active": 0}
    problem(await client.post(url, json=body, headers=clinic.headers), 422, "validation_failed")
    body = {"name": "Check-up", "default_duration_minutes": "30"}
    problem(await client.post(url, json=body, headers=clinic.headers), 422, "validation_failed")
    body = {"name": "Check-up", "default_duration_minutes": 30.0, "active": False}
    r = await client.post(url, json=body, headers=clinic.headers)
    assert r.status_code == 201, r.text


async def test_options_lists_every_method_of_the_path(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    r = await client.options(f"{clinic.api}/specialists", headers=clinic.headers)
    assert r.status_code == 204
    assert set(r.headers["allow"].split(", ")) == {"GET", "OPTIONS", "POST"}


async def test_strict_body_check_comes_after_sign_in(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    body = {"name": "Check-up", "default_duration_minutes": 30, "active": 0}
    r = await client.post(f"{clinic.api}/services", json=body)
    problem(r, 401)
    r = await client.post(f"{clinic.api}/services", json=body,
                          headers={"Authorization": "Bearer cbk_wrong"})  # fmt: skip
    problem(r, 401, "invalid_token")
