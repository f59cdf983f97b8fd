"""The app's request class: JSON bodies decoded with a nesting limit and plain-spoken errors.

Litestar decodes a JSON body with msgspec, whose C decoder recurses once per nesting level:
``[[[[…]]]]`` a thousand deep raised ``RecursionError`` (a 500 with a traceback). Every JSON
route reads its body through :meth:`CarebookRequest.json`, so one guard here covers them all.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import SerializationException, ValidationException

from carebook.errors import EMPTY_BODY, BadRequest

MAX_JSON_DEPTH = 32
"""Deeper than any body of the API (the deepest, a booking's ``answers``, needs a few)."""

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")
_STRICT_ERROR = "carebook.strict_body_error"
_PATH = re.compile(r" - at `\$\.(?P<path>[^`]+)`$")


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


def _integral_floats_as_ints(value: Any) -> Any:
    """``5.0`` → ``5``: JSON Schema's ``integer`` admits it, msgspec's strict mode does not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral_floats_as_ints(v) for v in value]
    if isinstance(value, dict):
        return {k: _integral_floats_as_ints(v) for k, v in value.items()}
    return value


class CarebookRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        body = await self.body()
        if not body.strip():
            raise malformed(EMPTY_BODY)
        if json_depth(body) > MAX_JSON_DEPTH:
            raise malformed(f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.")
        try:
            value = await super().json()
        except RecursionError as exc:  # pragma: no cover - the depth guard comes first
            raise malformed("The JSON body is nested too deeply.") from exc
        except SerializationException as exc:
            raise malformed(f"The request body is not valid JSON ({exc}).") from exc
        self.scope.setdefault("state", {})[_STRICT_ERROR] = self._strict_error(value)
        return value

    def _strict_error(self, value: Any) -> ValidationException | None:
        """Hold the body to its declared type as JSON, not as a query string: Litestar
        converts with ``strict=False`` (fit for query strings), which took ``"active": 0``
        for ``false`` and ``"5"`` for ``5``; OpenAPI promises a boolean and a number.

        Kept, not raised: the body is decoded before the route's dependencies run, and an
        unauthenticated caller must get 401/403, not a verdict on its body. The dependencies
        that authenticate (``tenants.guards``) call ``raise_strict_body_error`` once they
        have."""
        field = self.route_handler.parsed_fn_signature.parameters.get("data")
        if field is None or value is None:
            return None
        try:
            msgspec.convert(_integral_floats_as_ints(value), type=field.annotation, strict=True)
        except msgspec.ValidationError as exc:
            message = str(exc)
            where = _PATH.search(message)
            key = where["path"] if where else "data"
            return ValidationException(
                detail=f"Validation failed for {self.method} {self.url.path}",
                extra=[{"key": key, "message": message, "source": "body"}],
            )
        return None


def raise_strict_body_error(request: Request[Any, Any, Any]) -> None:
    """Raise the 422 that the body's strict check found (see ``CarebookRequest``), if any."""
    error = request.scope.get("state", {}).pop(_STRICT_ERROR, None)
    if error is not None:
        raise error
