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
