"""Errors on patient pages are HTML pages (with the problem's status), never JSON."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException
from litestar.response import Template
from litestar.types import ExceptionHandlersMap

from carebook.errors import CarebookError, TenantNotFound
from carebook.errors import exception_handlers as carebook_exception_handlers
from carebook.tenancy import Tenant

log = logging.getLogger(__name__)

# Pages load only their own scripts, styles and API: injected markup could not run or call out.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
}

# Headings and patient-friendly explanations for the errors patients meet.
_PAGES = {
    "clinic_not_found": (
        "We could not find this clinic",
        "Please check the address, or ask the clinic for its booking link.",
    ),
    "clinic_unavailable": (
        "This clinic is not taking bookings right now",
        "Online booking is paused. Please contact the clinic directly.",
    ),
    "calendar_not_found": (
        "This booking page is not available",
        "It may have been closed or the link may be wrong. The clinic's other services are "
        "still open for booking.",
    ),
    "appointment_not_found": (
        "We could not open this appointment",
        "This link is not valid. Check that you copied the whole link from your confirmation.",
    ),
}
_NO_CLINIC = frozenset({"clinic_not_found", "clinic_unavailable"})


def _page(
    request: Request[Any, Any, Any] | None,
    status: int,
    code: str,
    heading: str,
    detail: str,
    tenant: Tenant | None = None,
) -> Template:
    clinic = tenant.slug if tenant else request.path_params.get("clinic") if request else None
    return Template(
        "error.html",
        status_code=status,
        headers={**PAGE_HEADERS, "Cache-Control": "no-store"},
        context={
            "page_title": heading,
            "tenant": tenant,
            "heading": heading,
            "detail": detail,
            "code": code,
            # Where the clinic exists, offer its page as the way on.
            "clinic_url": f"/c/{clinic}" if clinic and code not in _NO_CLINIC else None,
        },
    )


def carebook_error_page(request: Request[Any, Any, Any], exc: CarebookError) -> Response[Any]:
    return error_page(exc, request=request)


def error_page(
    exc: CarebookError,
    *,
    request: Request[Any, Any, Any] | None = None,
    tenant: Tenant | None = None,
) -> Template:
    """The HTML page for ``exc``; with ``tenant`` it carries the clinic's name and zone."""
    code = exc.code
    if isinstance(exc, TenantNotFound) and code not in _PAGES:
        code = "clinic_not_found"
    if code in _PAGES:
        heading, detail = _PAGES[code]
    else:
        heading = "Page not found" if exc.status == 404 else "Something is not right"
        detail = exc.detail or exc.title
    return _page(request, exc.status, code, heading, detail, tenant)


def http_error_page(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    heading = "Page not found" if exc.status_code == 404 else "Something is not right"
    return _page(request, exc.status_code, "http_error", heading, "Please check the address.")


def wants_html(request: Request[Any, Any, Any]) -> bool:
    """A browser (HTML first in Accept, or ``*/*``) outside ``/api/``; API clients get JSON."""
    if request.url.path.startswith("/api/"):
        return False
    best = request.accept.best_match(["text/html", "application/problem+json", "application/json"])
    return best == "text/html"


def not_found(request: Request[Any, Any, Any], exc: NotFoundException) -> Response[Any]:
    """An unrouted path: an HTML page for browsers, a problem+json for API clients."""
    if not wants_html(request):
        return carebook_exception_handlers[HTTPException](request, exc)  # type: ignore[no-any-return]
    return _page(
        request,
        404,
        "page_not_found",
        "Page not found",
        "There is no page at this address. If a clinic sent you a booking link, please check "
        "that you copied all of it.",
    )


def unexpected_error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _page(
        request,
        500,
        "internal_error",
        "Something went wrong on our side",
        "Please try again in a moment. The problem has been logged.",
    )


HTML_EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    CarebookError: carebook_error_page,
    HTTPException: http_error_page,
    Exception: unexpected_error_page,
}
