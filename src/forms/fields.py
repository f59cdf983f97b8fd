"""Answers checked against a template's typed fields; every wrong field gets its own message."""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any

from carebook.errors import ValidationFailed
from forms.schemas import FieldSpec

TEXT_MAX = {"text": 500, "long_text": 5000}
CHOICES = ("single_choice", "multiple_choice")
_YES = {"yes", "true", "on", "1"}
_NO = {"no", "false", "off", "0"}


class FieldError(ValueError):
    """The message for one field, shown next to it."""


def check_template_fields(fields: list[FieldSpec]) -> None:
    """A template's fields make sense together (422 naming each wrong field)."""
    errors: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, f in enumerate(fields):
        where = f"fields[{i}]"
        if f.key in seen:
            errors.append({"field": f"{where}.key", "message": f"The key '{f.key}' is used twice."})
        seen.add(f.key)
        if f.type in CHOICES:
            if len(f.options) < 2:
                errors.append({"field": f"{where}.options", "message": "Give at least 2 options."})
            elif len(set(f.options)) != len(f.options):
                errors.append({"field": f"{where}.options", "message": "Options must differ."})
        elif f.options:
            errors.append(
                {"field": f"{where}.options", "message": "Only choice fields have options."}
            )
        if f.type != "number" and (f.min is not None or f.max is not None):
            errors.append({"field": f"{where}.min", "message": "Only numbers have min and max."})
        if f.min is not None and f.max is not None and f.min > f.max:
            errors.append({"field": f"{where}.max", "message": "max is below min."})
        for bound in (f.min, f.max):
            if bound is not None and not math.isfinite(bound):
                errors.append({"field": f"{where}.min", "message": "Bounds must be finite."})
    if errors:
        raise ValidationFailed("The form's fields are not valid.", code="invalid_fields",
                               errors=errors)  # fmt: skip


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip()) or raw == []


def clean_value(field: FieldSpec, raw: Any, now: datetime) -> Any:
    """The stored form of ``raw`` for ``field``, or None when it is blank (unanswered).

    Accepts JSON values and the strings an HTML form sends. Raises FieldError.
    """
    kind = field.type
    if kind == "consent":
        return _consent(field, raw, now)
    if _blank(raw):
        return None
    if kind in TEXT_MAX:
        if not isinstance(raw, str):
            raise FieldError("Enter text.")
        text = raw.strip()
        if "\x00" in text:
            raise FieldError("The text contains a character that is not allowed.")
        if len(text) > TEXT_MAX[kind]:
            raise FieldError(f"Use at most {TEXT_MAX[kind]} characters.")
        return text
    if kind == "number":
        return _number(field, raw)
    if kind == "date":
        if not isinstance(raw, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw.strip()):
            raise FieldError("Enter a date as YYYY-MM-DD.")
        try:
            return date.fromisoformat(raw.strip()).isoformat()
        except ValueError:
            raise FieldError("That date does not exist.") from None
    if kind == "single_choice":
        if not isinstance(raw, str) or raw not in field.options:
            raise FieldError("Choose one of the options.")
        return raw
    if kind == "multiple_choice":
        values = [raw] if isinstance(raw, str) else raw
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise FieldError("Choose from the options.")
        if any(v not in field.options for v in values):
            raise FieldError("Choose only from the options.")
        if len(set(values)) != len(values):
            raise FieldError("Choose each option at most once.")
        return [o for o in field.options if o in values]  # the template's order
    if kind == "yes_no":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in _YES | _NO:
            return raw.strip().lower() in _YES
        raise FieldError("Answer yes or no.")
    raise FieldError("Unknown field type.")  # pragma: no cover - the schema forbids it


def _number(field: FieldSpec, raw: Any) -> int | float:
    if isinstance(raw, bool):
        raise FieldError("Enter a number.")
    value: int | float
    if isinstance(raw, int | float):
        value = raw
    elif isinstance(raw, str) and re.fullmatch(r"-?\d{1,15}([.,]\d{1,6})?", raw.strip()):
        text = raw.strip().replace(",", ".")
        value = float(text) if "." in text else int(text)
    else:
        raise FieldError("Enter a number, e.g. 72 or 72.5.")
    if not math.isfinite(value) or abs(value) >= 1e15:
        raise FieldError("Enter a number, e.g. 72 or 72.5.")
    if field.min is not None and value < field.min:
        raise FieldError(f"Enter a number of at least {_plain(field.min)}.")
    if field.max is not None and value > field.max:
        raise FieldError(f"Enter a number of at most {_plain(field.max)}.")
    return value


def _plain(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _consent(field: FieldSpec, raw: Any, now: datetime) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise FieldError("Tick the box and type your full name to sign.")
    agreed, name = raw.get("agreed"), raw.get("name")
    if isinstance(agreed, str):
        agreed = agreed.strip().lower() in _YES
    name = name.strip() if isinstance(name, str) else ""
    if not agreed and not name:
        return None
    if agreed is not True:
        raise FieldError("Tick the box to give your consent.")
    if not 2 <= len(name) <= 200 or "\x00" in name:
        raise FieldError("Type your full name to sign.")
    return {"agreed": True, "name": name, "signed_at": now.isoformat()}


def missing_required(fields: list[FieldSpec], answers: dict[str, Any]) -> list[str]:
    """Keys of required fields without an answer."""
    return [f.key for f in fields if f.required and answers.get(f.key) is None]


def required_errors(fields: list[FieldSpec], answers: dict[str, Any]) -> list[dict[str, str]]:
    messages = {
        "consent": "Give your consent and sign with your name.",
        "multiple_choice": "Choose at least one option.",
        "single_choice": "Choose one of the options.",
        "yes_no": "Answer yes or no.",
    }
    return [
        {"field": key, "message": messages.get(by_key.type, "This field is required.")}
        for key in missing_required(fields, answers)
        for by_key in [next(f for f in fields if f.key == key)]
    ]
