"""Rendering staff pages and their errors (HTML, with the problem's status code)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.datastructures import ResponseHeader
from litestar.exceptions import HTTPException
from litestar.response import Redirect, Template
from litestar.types import ExceptionHandlersMap

from carebook.errors import CarebookError
from web.errors import PAGE_HEADERS
from web.staff.access import SignInRequired, csrf_for

log = logging.getLogger(__name__)

# Staff pages show patient data: never cached, never sent as a referrer.
STAFF_HEADERS = {**PAGE_HEADERS, "Cache-Control": "no-store", "Referrer-Policy": "same-origin"}
RESPONSE_HEADERS = [ResponseHeader(name=k, value=v) for k, v in STAFF_HEADERS.items()]


def render(
    request: Request[Any, Any, Any], template: str, status_code: int = 200, **context: Any
) -> Template:
    state = request.state
    base = {
        "tenant": getattr(state, "tenant", None),
        "me": getattr(state, "staff", None),
        "csrf": csrf_for(request) if getattr(state, "staff", None) else "",
    }
    return Template(f"staff/{template}", context={**base, **context}, status_code=status_code)


def _message(
    request: Request[Any, Any, Any], status: int, code: str, heading: str, detail: str
) -> Response[Any]:
    if getattr(request.state, "tenant", None) is None:
        from web.errors import _page

        return _page(request, status, code, heading, detail)
    return render(
        request,
        "message.html",
        status_code=status,
        page_title=heading,
        heading=heading,
        detail=detail,
        code=code,
    )


def staff_error(request: Request[Any, Any, Any], exc: CarebookError) -> Response[Any]:
    if isinstance(exc, SignInRequired) and request.method in ("GET", "HEAD"):
        clinic = request.path_params.get("clinic", "")
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(f"/c/{clinic}/staff/login?next={quote(target, safe='')}", status_code=303)
    heading = {401: "Please sign in", 403: "Not allowed", 404: "Not found"}.get(
        exc.status, "Something is not right"
    )
    return _message(request, exc.status, exc.code, heading, exc.detail or exc.title)


def staff_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    heading = "Not found" if exc.status_code == 404 else "Something is not right"
    return _message(request, exc.status_code, "http_error", heading, str(exc.detail))


def staff_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _message(
        request,
        500,
        "internal_error",
        "Something went wrong on our side",
        "Please try again in a moment. The problem has been logged.",
    )


STAFF_EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    CarebookError: staff_error,
    HTTPException: staff_http_error,
    Exception: staff_unexpected,
}
