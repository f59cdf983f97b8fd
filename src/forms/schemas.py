"""Wire shapes of the forms domain: templates with typed fields, instances and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

FieldType = Literal[
    "text",
    "long_text",
    "number",
    "date",
    "single_choice",
    "multiple_choice",
    "yes_no",
    "consent",
]
Phase = Literal["intake", "post_appointment"]
FieldKey = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Option = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Description = Annotated[str, msgspec.Meta(max_length=5000)]


class FieldSpec(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One question. ``options`` for the choice types; ``min``/``max`` for numbers; the
    ``label`` of a consent field is the statement the patient signs."""

    key: FieldKey
    type: FieldType
    label: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
    required: bool = False
    help: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    options: list[Option] = []
    min: float | None = None
    max: float | None = None


Fields = Annotated[list[FieldSpec], msgspec.Meta(min_length=1, max_length=100)]


class TemplateIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    phase: Phase
    fields: Fields
    description: Description = ""


class TemplateEdit(msgspec.Struct, forbid_unknown_fields=True):
    """A new version of a template (the phase never changes)."""

    name: Name
    fields: Fields
    description: Description = ""


class TemplateOut(msgspec.Struct):
    id: UUID
    phase: str
    version: int
    name: str
    description: str
    fields: list[FieldSpec]
    archived: bool
    created_at: datetime
    updated_at: datetime


class InstanceOut(msgspec.Struct):
    id: UUID
    appointment_id: UUID
    template_id: UUID
    template_version: int
    phase: str
    name: str
    description: str
    fields: list[FieldSpec]
    status: str
    answers: dict[str, Any]
    missing: list[str]
    submitted_at: datetime | None
    submitted_by_kind: str | None


class AnswerIn(msgspec.Struct, forbid_unknown_fields=True):
    """One field's value; ``null`` clears it."""

    value: Any = None


class AnswersIn(msgspec.Struct, forbid_unknown_fields=True):
    """Several fields at once (each validated on its own; valid ones are saved)."""

    answers: dict[str, Any]
