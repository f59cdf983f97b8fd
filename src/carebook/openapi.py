"""OpenAPI entries for problem responses, shared by every domain's routes."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ASGIApp, Receive, Scope, Send

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
            generate_examples=False,  # made-up values; the schema carries a real example
        )
        for status, codes in by_status.items()
    }


# --- The finished document ------------------------------------------------------------------
# Routes declare the problems peculiar to them with ``problems(...)``; what follows every route
# of an audience (auth failures, unknown clinic, malformed bodies) is added here, from the
# path, so a route added tomorrow is documented the day it lands. Litestar's own default 400
# entry (``{status_code, detail, extra}`` as application/json) is not what we answer and is
# replaced by the problem schema.

PROBLEM_REF = "#/components/schemas/Problem"
PROBLEM_EXAMPLE = {
    "type": "https://carebook.dev/problems/validation_failed",
    "title": "Invalid input",
    "status": 422,
    "code": "validation_failed",
    "detail": "Validation failed for POST /api/v1/clinics/demo/public/holds",
    "instance": "/api/v1/clinics/demo/public/holds",
    "errors": [{"field": "start", "source": "body", "message": "Invalid RFC3339 encoded datetime"}],
}

STAFF_SCHEMES = ("staffBearer", "staffSession")
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "staffBearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "cbk_… (clinic staff API token)",
        "description": "A clinic staff API token: `Authorization: Bearer cbk_…`.",
    },
    "staffSession": {
        "type": "apiKey",
        "in": "cookie",
        "name": "carebook_staff",
        "description": "The session cookie set by `POST /api/v1/clinics/{clinic}/auth/login`. "
        "Unsafe methods must also send the `X-CSRF-Token` header that login returned.",
    },
    "platformBearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "cbp_… (platform API token)",
        "description": "A platform admin's API token: `Authorization: Bearer cbp_…` "
        "(`carebook users create-platform-admin --token`).",
    },
    "platformSession": {
        "type": "apiKey",
        "in": "cookie",
        "name": "id",
        "description": "A Piccolo admin session (platform admins signed in at /admin/); "
        "read-only (GET) requests only.",
    },
}

_UNSAFE = {"post", "put", "patch", "delete"}
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _audience(path: str) -> str:
    if path.startswith("/api/v1/platform"):
        return "platform"
    if path.startswith("/api/v1/clinics/{clinic}/public"):
        return "public"
    if path == "/api/v1/clinics/{clinic}/auth/login":
        return "login"
    if path.startswith("/api/v1/clinics/{clinic}"):
        return "staff"
    return "other"


def _standard_problems(path: str, method: str, op: dict[str, Any]) -> dict[str, str]:
    """Status → codes every operation of this kind can answer, whatever the route."""
    audience = _audience(path)
    params = op.get("parameters") or []
    has_body = "requestBody" in op
    found: dict[str, str] = {}
    if has_body:
        found["400"] = MALFORMED
        found["413"] = "body_too_large"
    if has_body or params:
        found["422"] = INVALID
    if "{" in path:
        found["404"] = "not_found (no such resource, or a malformed id in the path)"
    if audience in ("staff", "platform"):
        found["401"] = "unauthorized, invalid_token"
        found["403"] = "forbidden (role), clinic_suspended" + (
            ", csrf_failed" if audience == "staff" and method in _UNSAFE else ""
        )
        if audience == "staff":
            found["404"] = "clinic_not_found, not_found"
        if method in _UNSAFE:
            found["409"] = "conflict (the resource's current state forbids this)"
    if audience == "login":
        found.update({"401": "bad_credentials", "403": "clinic_suspended",
                      "404": "clinic_not_found", "429": RATE_LIMITED})  # fmt: skip
    if audience == "public":
        found["404"] = "clinic_not_found, not_found"
        found["403"] = "clinic_unavailable"
    return found


def _is_problem(response: dict[str, Any]) -> bool:
    return PROBLEM_JSON in (response.get("content") or {})


REQUIRED_HEADERS: dict[str, dict[str, Any]] = {
    # bookings.idempotency.valid_key: 1-255 printable ASCII characters without spaces.
    "Idempotency-Key": {"type": "string", "pattern": "^[!-~]{1,255}$"},
}
LOCAL_DATE_PARAMS = {"start", "end", "date"}
"""Query parameters read by ``carebook.zones.parse_local_date`` (strings in the handlers)."""


def _closed(schemas: dict[str, Any], node: Any, seen: set[str]) -> None:
    """``additionalProperties: false`` on every object schema reachable from ``node``: our
    request structs forbid unknown fields, and the document should say so."""
    if isinstance(node, list):
        for item in node:
            _closed(schemas, item, seen)
        return
    if not isinstance(node, dict):
        return
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[1]
        if name not in seen and name in schemas:
            seen.add(name)
            target = schemas[name]
            if target.get("type") == "object" and "properties" in target:
                target["additionalProperties"] = False
            _closed(schemas, target, seen)
        return
    for key in ("properties", "items", "oneOf", "anyOf", "allOf"):
        child = node.get(key)
        if key == "properties" and isinstance(child, dict):
            for value in child.values():
                _closed(schemas, value, seen)
        elif child is not None:
            _closed(schemas, child, seen)


def finish_document(document: dict[str, Any]) -> dict[str, Any]:
    """Add the standard problem responses, security schemes and requirements to ``document``
    (the JSON form of Litestar's OpenAPI object); returns it."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    problem_schema = schemas.setdefault("Problem", {"type": "object"})
    problem_schema["example"] = PROBLEM_EXAMPLE
    problem_schema["description"] = "RFC 9457 problem details; `code` is stable."
    components["securitySchemes"] = SECURITY_SCHEMES
    for path, item in document.get("paths", {}).items():
        audience = _audience(path)
        for method in _METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            _closed(schemas, body.get("schema"), set())
            for param in op.get("parameters") or []:
                if param.get("in") == "header" and param.get("name") in REQUIRED_HEADERS:
                    # Checked by the handler, with its own 400/422 codes.
                    param["required"] = True
                    param["schema"] = {**REQUIRED_HEADERS[param["name"]],
                                       "description": param.get("description", "")}  # fmt: skip
                if param.get("in") == "query" and param.get("name") in LOCAL_DATE_PARAMS:
                    for variant in [
                        param.get("schema", {}),
                        *param.get("schema", {}).get("oneOf", []),
                    ]:
                        if variant.get("type") == "string":
                            variant["format"] = "date"
                            variant["pattern"] = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
            responses: dict[str, Any] = op.setdefault("responses", {})
            for status, codes in _standard_problems(path, method, op).items():
                if status not in responses or not _is_problem(responses[status]):
                    responses[status] = {
                        "description": f"Problem details; code: {codes}",
                        "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
                    }
            if isinstance(responses.get("204"), dict):
                responses["204"].pop("content", None)  # Litestar documents `null` as JSON
            for status, response in list(responses.items()):
                if status.startswith(("4", "5")) and not _is_problem(response):
                    responses[status] = {
                        "description": response.get("description") or "Problem details",
                        "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
                    }
            if audience == "staff":
                op["security"] = [{name: []} for name in STAFF_SCHEMES]
            elif audience == "platform":
                op["security"] = [{"platformBearer": []}] + (
                    [{"platformSession": []}] if method == "get" else []
                )
    return document


def _request_types(app: Any) -> list[Any]:
    types = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            field = handler.parsed_fn_signature.parameters.get("data")
            if field is not None:
                types.append(field.annotation)
    return types


def _exact_request_schemas(app: Any, document: dict[str, Any]) -> None:
    """Request-body components as msgspec itself states them. Litestar's rendering of msgspec
    constraints drops falsy bounds (``ge=0`` lost its ``minimum: 0``) and never says
    ``additionalProperties: false`` for ``forbid_unknown_fields``; msgspec's own JSON Schema
    is the validator's exact contract."""
    _, exact = msgspec.json.schema_components(
        _request_types(app), ref_template="#/components/schemas/{name}"
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in exact.items():
        if name in schemas:
            if not schema.get("required", True):
                del schema["required"]
            schemas[name] = schema


def document(app: Any) -> dict[str, Any]:
    """The finished document of ``app``, as /schema/openapi.json serves it.

    Litestar builds its document on first request and keeps the JSON form in the plugin's
    ``_openapi_schema``; we put the finished form there (at start-up, see ``app.py``).
    """
    from litestar._openapi.plugin import OpenAPIPlugin

    plugin = app.plugins.get(OpenAPIPlugin)
    schema: dict[str, Any] = plugin.provide_openapi_schema()
    if "securitySchemes" not in schema.get("components", {}):
        _exact_request_schemas(app, schema)
        finish_document(schema)  # in place: the plugin keeps serving this dict
    return schema


def finish_on_first_read(app: ASGIApp) -> ASGIApp:
    """Middleware: finish the document before /schema/… first serves it (building it costs
    over a second, so not at every start-up)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("path", "").startswith("/schema"):
            document(scope["litestar_app"])
        await app(scope, receive, send)

    return middleware
