"""The app's request class: JSON bodies decoded with a nesting limit and plain-spoken errors.

Litestar decodes a JSON body with msgspec, whose C decoder recurses once per nesting level:
``[[[[…]]]]`` a thousand deep raised ``RecursionError`` (a 500 with a traceback). Every JSON
route reads its body through :meth:`CarebookRequest.json`, so one guard here covers them all.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request
from litestar.exceptions import SerializationException

from carebook.errors import EMPTY_BODY, BadRequest

MAX_JSON_DEPTH = 32
"""Deeper than any body of the API (the deepest, a booking's ``answers``, needs a few)."""

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in ``body`` (strings are skipped).

    Cheap: bodies with few brackets are answered by two ``bytes.count`` calls; others by two
    C regex passes and a loop over the brackets alone (bodies are at most 64 KiB).
    """
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return 0
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub(b'""', body)):
        if bracket in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def malformed(detail: str) -> BadRequest:
    return BadRequest(detail, code="malformed_request", title="Malformed request")


class CarebookRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        body = await self.body()
        if not body.strip():
            raise malformed(EMPTY_BODY)
        if json_depth(body) > MAX_JSON_DEPTH:
            raise malformed(f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.")
        try:
            return await super().json()
        except RecursionError as exc:  # pragma: no cover - the depth guard comes first
            raise malformed("The JSON body is nested too deeply.") from exc
        except SerializationException as exc:
            raise malformed(f"The request body is not valid JSON ({exc}).") from exc
