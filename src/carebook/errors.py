"""One exception hierarchy, mapped to RFC 9457 problem details in one place."""

from __future__ import annotations

import logging
from typing import Any

from asyncpg.exceptions import DataError, DeadlockDetectedError, SerializationError
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


ECHO_LIMIT = 64


def echo(value: object, limit: int = ECHO_LIMIT) -> str:
    """``value`` quoted for an error message, cut to ``limit`` characters: a problem names
    what was wrong without mirroring a 20 KB input back (twice: detail and errors)."""
    text = str(value)
    if len(text) > limit:
        text = text[:limit] + f"… ({len(text)} characters)"
    return f"'{text}'"


MESSAGE_LIMIT = 300


def clip(text: str | None, limit: int = MESSAGE_LIMIT) -> str | None:
    """A message cut to ``limit`` characters (validators may quote the value they refused)."""
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + "…"


class CarebookError(Exception):
    """Base of every error we raise on purpose; ``code`` is stable and documented."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or title or self.title)
        self.detail = detail
        if code:
            self.code = code
        if title:
            self.title = title
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}


class BadRequest(CarebookError):
    pass


class Unauthorized(CarebookError):
    status, code, title = 401, "unauthorized", "Authentication required"


class Forbidden(CarebookError):
    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(CarebookError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(CarebookError):
    status, code, title = 409, "conflict", "Conflict"


class ValidationFailed(CarebookError):
    status, code, title = 422, "validation_failed", "Invalid input"

    @classmethod
    def field(cls, field: str, message: str, *, code: str | None = None) -> ValidationFailed:
        return cls(message, code=code, errors=[{"field": field, "message": message}])


class RateLimited(CarebookError):
    status, code, title = 429, "rate_limited", "Too many requests"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many requests; retry in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )


class DatabaseBusy(CarebookError):
    """No pooled database connection came free within ``CAREBOOK_DB_ACQUIRE_TIMEOUT``."""

    status, code, title = 503, "busy_retry", "Busy, please retry"

    def __init__(self) -> None:
        super().__init__("Every database connection is busy; retry.", headers={"Retry-After": "1"})


class TenantNotFound(NotFound):
    code, title = "clinic_not_found", "No such clinic"


class ClinicSuspended(Forbidden):
    code, title = "clinic_suspended", "This clinic is suspended"


def problem(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": f"https://carebook.dev/problems/{code}",
        "title": title,
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = clip(detail)
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = [{**e, "message": clip(str(e.get("message", "")))} for e in errors]
    if extra:
        body.update(extra)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _carebook_error(request: Request[Any, Any, Any], exc: CarebookError) -> Response[Any]:
    return problem(
        exc.status,
        exc.code,
        exc.title,
        exc.detail,
        instance=request.url.path,
        errors=exc.errors,
        headers=exc.headers,
        extra=exc.extra,
    )


EMPTY_BODY = "The request body is empty; send a JSON object with Content-Type: application/json."


def _missing_body(item: dict[str, Any]) -> bool:
    """Litestar's entry for a handler whose JSON body was empty: the body parameter itself is
    missing (``{"key": "data", "source": "body", "message": "'data'"}``)."""
    key = item.get("key")
    return item.get("source") == "body" and bool(key) and item.get("message") == f"'{key}'"


def _validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    items = [i for i in (exc.extra if isinstance(exc.extra, list) else []) if isinstance(i, dict)]
    if any(_missing_body(item) for item in items):
        return problem(400, "malformed_request", "Malformed request", EMPTY_BODY,
                       instance=request.url.path)  # fmt: skip
    errors = []
    for item in items:
        errors.append(
            {
                "field": item.get("key") or item.get("source") or "body",
                "source": item.get("source"),
                "message": clip(str(item.get("message", "invalid"))),
            }
        )
    malformed = not errors or all(e["field"] == "body" for e in errors)
    if "JSON" in (exc.detail or "") or malformed:
        return problem(
            400, "malformed_request", "Malformed request", exc.detail, instance=request.url.path,
            errors=errors or None,
        )  # fmt: skip
    return problem(
        422, "validation_failed", "Invalid input", exc.detail, instance=request.url.path,
        errors=errors,
    )  # fmt: skip


_HTTP_CODES = {
    400: ("malformed_request", "Malformed request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    413: ("body_too_large", "Request body too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    429: ("rate_limited", "Too many requests"),
}


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "Request failed"))
    return problem(
        exc.status_code, code, title, exc.detail, instance=request.url.path,
        headers=dict(exc.headers or {}),
    )  # fmt: skip


def _contention(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # Reached only after run_in_tenant_tx's retries are spent: busy, not broken.
    return problem(
        503, "busy_retry", "Busy, please retry", "The request collided with others; retry.",
        instance=request.url.path, headers={"Retry-After": "1"},
    )  # fmt: skip


def _bad_value(request: Request[Any, Any, Any], exc: DataError) -> Response[Any]:
    # SQLSTATE class 22: PostgreSQL refused a value (a NUL character in text, a number or a
    # date out of range) that passed the request's schema. The input is bad, nothing broke.
    log.warning("value refused by PostgreSQL on %s %s: %s %s", request.method,
                request.url.path, exc.sqlstate, exc)  # fmt: skip
    return problem(
        422, "invalid_value", "Invalid value",
        "A value in the request cannot be stored: text must not contain NUL characters, and "
        "numbers and dates must be within range.",
        instance=request.url.path,
    )  # fmt: skip


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "internal_error",
        "Internal error",
        "Something went wrong on our side; it has been logged.",
        instance=request.url.path,
    )


exception_handlers: dict[type[Exception], Any] = {
    CarebookError: _carebook_error,
    ValidationException: _validation_error,
    HTTPException: _http_error,
    SerializationError: _contention,
    DeadlockDetectedError: _contention,
    DataError: _bad_value,
    Exception: _unexpected,
}

__all__ = ["PROBLEM_JSON", "MediaType", "exception_handlers", "problem"]
