"""Hostile and sloppy request bodies are clear 400 problems on every JSON route, never a 500."""

from __future__ import annotations

import logging
import time

import httpx
import pytest

from carebook.requests import MAX_JSON_DEPTH, json_depth
from tests.conftest import Clinic
from tests.helpers import problem

NESTED = "[" * 1000 + "]" * 1000
JSON = {"content-type": "application/json"}


def _routes(clinic: Clinic) -> list[tuple[str, dict[str, str]]]:
    return [
        (f"{clinic.public}/holds", JSON),
        (f"{clinic.public}/bookings", {**JSON, "Idempotency-Key": "k" * 16}),
        (f"{clinic.api}/specialists", {**JSON, **clinic.headers}),
        (f"{clinic.api}/calendars", {**JSON, **clinic.headers}),
    ]


async def test_deeply_nested_json_is_400_without_traceback(
    client: httpx.AsyncClient, clinic: Clinic, caplog: pytest.LogCaptureFixture
) -> None:
    for body in (NESTED, '{"a":' * 1000 + "1" + "}" * 1000):
        for path, headers in _routes(clinic):
            with caplog.at_level(logging.INFO):
                started = time.perf_counter()
                r = await client.post(path, content=body, headers=headers)
                elapsed = time.perf_counter() - started
            got = problem(r, 400, "malformed_request")
            assert "nested" in got["detail"], got
            assert elapsed < 1.0, elapsed
    assert not [rec for rec in caplog.records if rec.exc_info], "a traceback was logged"
    assert "Traceback" not in caplog.text


async def test_platform_route_refuses_deep_nesting(
    client: httpx.AsyncClient, platform_token: str
) -> None:
    r = await client.post(
        "/api/v1/platform/tenants/",
        content=NESTED,
        headers={**JSON, "Authorization": f"Bearer {platform_token}"},
    )
    problem(r, 400, "malformed_request")


def test_depth_counts_brackets_outside_strings_only() -> None:
    assert json_depth(b'{"a": [1, 2, {"b": []}]}') == 0  # few brackets: not even scanned
    wide = b"[" + b",".join([b"[]"] * 100) + b"]"
    assert json_depth(wide) == 2
    assert json_depth(b'["' + b"[" * 500 + b'"]') == 1
    assert json_depth(b'["\\"' + b"[" * 500 + b'"]') == 1
    assert json_depth(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1)) == 33


async def test_nesting_within_the_limit_reaches_validation(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    deep = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    r = await client.post(f"{clinic.public}/holds", content=deep, headers=JSON)
    problem(r, 422, "validation_failed")


async def test_empty_or_non_json_bodies_are_400_in_plain_words(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    for path, headers in _routes(clinic):
        for body, ctype in ((b"", "application/json"), (b"  \n", "application/json"),
                            (b"", None), (b"", "text/plain")):  # fmt: skip
            h = {k: v for k, v in headers.items() if k != "content-type"}
            if ctype:
                h["content-type"] = ctype
            got = problem(await client.post(path, content=body, headers=h), 400,
                          "malformed_request")  # fmt: skip
            assert got["detail"] == (
                "The request body is empty; send a JSON object with Content-Type: application/json."
            ), got
            assert "errors" not in got
        for body in (b"name=Dr+X", b"<xml/>", b"{'single': 'quotes'}"):
            r = await client.post(path, content=body, headers=headers)
            got = problem(r, 400, "malformed_request")
            assert got["detail"].startswith("The request body is not valid JSON"), got


async def _small_422(response: httpx.Response) -> dict[str, object]:
    got = problem(response, 422)
    assert len(response.content) < 2000, len(response.content)
    return got


async def test_invalid_values_are_not_echoed_in_full(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    from tests.bookings.support import bookable

    setup = await bookable(clinic.tenant)
    huge = "x" * 20_000
    slots = f"{clinic.public}/calendars/{setup.calendar_id}/slots"
    got = await _small_422(
        await client.get(slots, params={"start": "2027-01-04", "end": "2027-01-05", "tz": huge})
    )
    assert got["code"] == "invalid_timezone"
    assert "20000 characters" in str(got["detail"])
    await _small_422(await client.get(slots, params={"start": huge, "end": "2027-01-05"}))
    await _small_422(
        await client.get(f"{clinic.api}/appointments/", params={"tz": huge}, headers=clinic.headers)
    )
    overrides = f"{clinic.api}/specialists/{setup.specialist_id}/overrides"
    for body in ({"start_date": "2027-01-04", "kind": huge},
                 {"start_date": "2027-01-04", "kind": "unavailable", "reason": huge}):  # fmt: skip
        r = await client.post(overrides, json=body, headers=clinic.headers)
        await _small_422(r)
    r = await client.post(f"{clinic.api}/calendars", headers=clinic.headers, json={
        "service_id": str(setup.calendar["service_id"]), "name": "n", "slug": "huge-currency",
        "price_minor": 1, "currency": "EUR", "duration_minutes": 30, "kind": huge})  # fmt: skip
    await _small_422(r)


async def test_unknown_specialist_is_404_on_slots_and_day_list(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    import uuid

    from tests.bookings.support import bookable

    setup = await bookable(clinic.tenant)
    nobody = str(uuid.uuid4())
    slots = f"{clinic.public}/calendars/{setup.calendar_id}/slots"
    params = {"start": "2027-01-04", "end": "2027-01-05"}
    r = await client.get(slots, params={**params, "specialist_id": nobody})
    problem(r, 404, "specialist_not_found")
    r = await client.get(slots, params={**params, "specialist_id": str(setup.specialist_id)})
    assert r.status_code == 200, r.text
    day = f"{clinic.api}/appointments/"
    r = await client.get(day, params={"specialist_id": nobody}, headers=clinic.headers)
    problem(r, 404, "specialist_not_found")
    r = await client.get(day, params={"specialist_id": str(setup.specialist_id)},
                         headers=clinic.headers)  # fmt: skip
    assert r.status_code == 200, r.text
