"""OpenAPI entries for problem responses, shared by every domain's routes."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec

from carebook.errors import PROBLEM_JSON

RATE_LIMITED = "rate_limited (with Retry-After)"
MALFORMED = "malformed_request (not JSON)"
INVALID = "validation_failed (per-field errors)"


class Problem(msgspec.Struct):
    """RFC 9457 problem details, as every error of the API is answered."""

    type: str
    title: str
    status: int
    code: str
    detail: str | None = None
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


def problems(**by_status: str) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problem responses of a route: ``s409="slot_unavailable"``."""
    return {
        int(status[1:]): ResponseSpec(
            data_container=Problem,
            description=f"Problem details; code: {codes}",
            media_type=PROBLEM_JSON,
        )
        for status, codes in by_status.items()
    }
