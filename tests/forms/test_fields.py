"""Every field type: valid and invalid values, blanks, and template checks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from carebook.errors import ValidationFailed
from forms.fields import FieldError, check_template_fields, clean_value, required_errors
from forms.schemas import FieldSpec

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def spec(kind: str, **kw: Any) -> FieldSpec:
    if kind in ("single_choice", "multiple_choice") and "options" not in kw:
        kw["options"] = ["A", "B", "C"]
    return FieldSpec(key="f", type=kind, label="Question", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "raw", "stored"),
    [
        ("text", "  hello ", "hello"),
        ("long_text", "line 1\nline 2", "line 1\nline 2"),
        ("number", 72, 72),
        ("number", 72.5, 72.5),
        ("number", "72,5", 72.5),
        ("number", "-3", -3),
        ("date", "1980-02-29", "1980-02-29"),
        ("single_choice", "B", "B"),
        ("multiple_choice", ["C", "A"], ["A", "C"]),
        ("multiple_choice", "B", ["B"]),
        ("yes_no", True, True),
        ("yes_no", "no", False),
        ("yes_no", "Yes", True),
    ],
)
def test_valid_values(kind: str, raw: Any, stored: Any) -> None:
    assert clean_value(spec(kind), raw, NOW) == stored


def test_consent_records_name_and_time() -> None:
    stored = clean_value(spec("consent"), {"agreed": True, "name": " Pat Example "}, NOW)
    assert stored == {"agreed": True, "name": "Pat Example", "signed_at": NOW.isoformat()}
    html = clean_value(spec("consent"), {"agreed": "on", "name": "Pat"}, NOW)
    assert html["agreed"] is True


@pytest.mark.parametrize(
    ("kind", "raw", "message"),
    [
        ("text", 5, "Enter text."),
        ("text", "x" * 501, "at most 500"),
        ("text", "a\x00b", "not allowed"),
        ("long_text", "x" * 5001, "at most 5000"),
        ("number", "seventy", "Enter a number"),
        ("number", True, "Enter a number"),
        ("number", "1e400", "Enter a number"),
        ("number", float("nan"), "Enter a number"),
        ("date", "29.02.1980", "YYYY-MM-DD"),
        ("date", "1981-02-29", "does not exist"),
        ("date", 19800229, "YYYY-MM-DD"),
        ("single_choice", "D", "one of the options"),
        ("single_choice", ["A"], "one of the options"),
        ("multiple_choice", ["A", "D"], "only from the options"),
        ("multiple_choice", ["A", "A"], "at most once"),
        ("multiple_choice", [1], "Choose from the options"),
        ("yes_no", "maybe", "yes or no"),
        ("yes_no", 1, "yes or no"),
        ("consent", "yes", "Tick the box"),
        ("consent", {"agreed": False, "name": "Pat"}, "Tick the box"),
        ("consent", {"agreed": True, "name": ""}, "full name"),
        ("consent", {"agreed": True}, "full name"),
    ],
)
def test_invalid_values(kind: str, raw: Any, message: str) -> None:
    with pytest.raises(FieldError, match=message):
        clean_value(spec(kind), raw, NOW)


def test_number_bounds() -> None:
    field = spec("number", min=1, max=400)
    assert clean_value(field, 400, NOW) == 400
    with pytest.raises(FieldError, match="at least 1"):
        clean_value(field, 0.5, NOW)
    with pytest.raises(FieldError, match="at most 400"):
        clean_value(field, "401", NOW)


@pytest.mark.parametrize(
    "kind", ["text", "long_text", "number", "date", "single_choice", "multiple_choice", "yes_no"]
)
@pytest.mark.parametrize("blank", [None, "", "   ", []])
def test_blank_is_unanswered(kind: str, blank: Any) -> None:
    assert clean_value(spec(kind), blank, NOW) is None


def test_required_errors_name_each_missing_field() -> None:
    fields = [
        FieldSpec(key="a", type="text", label="A", required=True),
        FieldSpec(key="b", type="consent", label="B", required=True),
        FieldSpec(key="c", type="text", label="C"),
    ]
    errors = required_errors(fields, {"c": "x"})
    assert [e["field"] for e in errors] == ["a", "b"]
    assert required_errors(fields, {"a": "x", "b": {"agreed": True}}) == []


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ([spec("text"), spec("number")], "fields[1].key"),
        ([spec("single_choice", options=["A"])], "fields[0].options"),
        ([spec("multiple_choice", options=["A", "A"])], "fields[0].options"),
        ([spec("text", options=["A", "B"])], "fields[0].options"),
        ([spec("text", min=1)], "fields[0].min"),
        ([spec("number", min=5, max=1)], "fields[0].max"),
    ],
)
def test_template_checks(fields: list[FieldSpec], where: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_template_fields(fields)
    assert caught.value.errors and caught.value.errors[0]["field"] == where
