"""Structured logs: every record carries the request id and clinic slug of its request.

``CAREBOOK_LOG_FORMAT=json`` writes one JSON object per line (``ts``, ``level``, ``logger``,
``msg``, ``request_id``, ``clinic``, ``exc``); ``plain`` (the default) is human-readable
text with the same context. Patient data never goes into log records: the access line names
the route *template* (no ids, no query string, so no manage tokens) and the code logs ids,
never names, emails or phone numbers. As a second line of defence the formatters mask
anything shaped like an email address or an international phone number.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("carebook_request_id", default=None)
clinic_var: ContextVar[str | None] = ContextVar("carebook_clinic", default=None)

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+\d[\d\s().-]{6,}\d")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_CLINIC_IN_PATH = re.compile(r"^/(?:api/v1/clinics|c)/([a-z][a-z0-9-]{2,39})(?:/|$)")


def new_request_id(sent: str | None) -> str:
    """The caller's ``X-Request-ID`` when it looks like one, else a fresh random id."""
    if sent and _REQUEST_ID.fullmatch(sent):
        return sent
    return secrets.token_hex(8)


def clinic_of_path(path: str) -> str | None:
    found = _CLINIC_IN_PATH.match(path)
    return found.group(1) if found else None


def mask(text: str) -> str:
    return _PHONE.sub("[phone]", _EMAIL.sub("[email]", text))


class ContextFilter(logging.Filter):
    """Puts the current request id and clinic on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.clinic = clinic_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        item: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": mask(record.getMessage()),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
            "clinic": getattr(record, "clinic", None) or clinic_var.get(),
        }
        for key in ("route", "status", "duration_ms", "method"):
            if (value := getattr(record, key, None)) is not None:
                item[key] = value
        if record.exc_info:
            item["exc"] = mask(self.formatException(record.exc_info))
        return json.dumps(item, default=str)


class PlainFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(levelname)s %(asctime)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = mask(super().format(record))
        rid = getattr(record, "request_id", None) or request_id_var.get()
        clinic = getattr(record, "clinic", None) or clinic_var.get()
        context = " ".join(f"{k}={v}" for k, v in (("request", rid), ("clinic", clinic)) if v)
        return f"{text} [{context}]" if context else text


def formatter_class(log_format: str) -> str:
    return "carebook.logs.JsonFormatter" if log_format == "json" else "carebook.logs.PlainFormatter"
