"""Contention that outlasts the retries is a 503 problem with Retry-After, never a 500."""

from __future__ import annotations

import httpx
import pytest
from asyncpg.exceptions import DeadlockDetectedError, SerializationError
from litestar import Litestar, get

from carebook.errors import exception_handlers
from tests.helpers import problem


@pytest.mark.parametrize("error", [SerializationError, DeadlockDetectedError])
async def test_exhausted_retries_answer_503_busy(error: type[Exception]) -> None:
    @get("/contended")
    async def contended() -> None:
        raise error("could not serialize access")

    app = Litestar([contended], exception_handlers=exception_handlers)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/contended")
    problem(r, 503, "busy_retry")
    assert r.headers["retry-after"] == "1"
