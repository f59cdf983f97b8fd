"""Wire shapes of the bookings domain (msgspec; instants always carry an offset)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec

Instant = Annotated[datetime, msgspec.Meta(tz=True)]
# Explicit whitespace, not \s: Python and JSON Schema (ECMA 262) regexes disagree on which
# Unicode characters \s matches, and the OpenAPI document publishes this pattern.
Email = Annotated[
    str,
    msgspec.Meta(pattern=r"^[^@ \t\n\r\f\v]+@[^@ \t\n\r\f\v]+\.[^@ \t\n\r\f\v]+$", max_length=254),
]
SessionKey = Annotated[str, msgspec.Meta(min_length=8, max_length=128, pattern=r"^[\x21-\x7e]+$")]


class HoldIn(msgspec.Struct, forbid_unknown_fields=True):
    calendar_id: UUID
    start: Instant
    specialist_id: UUID | None = None
    session_key: SessionKey | None = None
    """The browser tab's key: a new hold with the same key releases the previous one."""


class HoldOut(msgspec.Struct):
    hold_id: UUID
    token: str
    """Shown once; send it as X-Hold-Token to release, and in the booking body."""
    expires_at: datetime
    specialist_id: UUID
    start: datetime
    end: datetime


class PatientIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    email: Email
    timezone: Annotated[str, msgspec.Meta(max_length=64)]
    phone: Annotated[str, msgspec.Meta(max_length=40, pattern=r"^[0-9+()./ -]{3,40}$")] | None = (
        None
    )


class BookingIn(msgspec.Struct, forbid_unknown_fields=True):
    hold_id: UUID
    token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    patient: PatientIn
    answers: dict[str, Any] | None = None
    notes: Annotated[str, msgspec.Meta(max_length=4000)] | None = None


class Ref(msgspec.Struct):
    id: UUID
    name: str


class CalendarRef(msgspec.Struct):
    id: UUID
    name: str
    slug: str


class Price(msgspec.Struct):
    amount_minor: int
    currency: str


class BookingOut(msgspec.Struct):
    appointment_id: UUID
    status: str
    start: datetime
    end: datetime
    specialist: Ref
    calendar: CalendarRef
    price: Price
    manage_url: str
    """Carries the appointment's manage token (shown once per booking, stored hashed)."""


class PatientOut(msgspec.Struct):
    id: UUID
    name: str
    email: str
    phone: str | None


class AppointmentOut(msgspec.Struct):
    id: UUID
    status: str
    start: datetime
    end: datetime
    specialist: Ref
    calendar: CalendarRef
    patient: PatientOut | None
    price: Price | None
    hold_expires_at: datetime | None


class DayOut(msgspec.Struct):
    date: str
    timezone: str
    appointments: list[AppointmentOut]


# ---- The lifecycle (docs/lifecycle.md) ------------------------------------------------------

Reason = Annotated[str, msgspec.Meta(max_length=500)]


class TransitionIn(msgspec.Struct, forbid_unknown_fields=True):
    action: Annotated[str, msgspec.Meta(examples=["confirm"])]
    """confirm, start, complete, cancel (needs a reason) or no_show."""
    version: int
    """The appointment's version as last read: a stale one is a 409 version_conflict."""
    reason: Reason | None = None


class RescheduleIn(msgspec.Struct, forbid_unknown_fields=True):
    version: int
    start: Instant
    specialist_id: UUID | None = None
    reason: Reason | None = None


class PatientCancelIn(msgspec.Struct, forbid_unknown_fields=True):
    version: int
    reason: Reason


class PatientRescheduleIn(msgspec.Struct, forbid_unknown_fields=True):
    version: int
    start: Instant
    specialist_id: UUID | None = None


class StaffBookingIn(msgspec.Struct, forbid_unknown_fields=True):
    calendar_id: UUID
    start: Instant
    patient: PatientIn
    specialist_id: UUID | None = None
    notes: Annotated[str, msgspec.Meta(max_length=4000)] | None = None


class PatientDetail(msgspec.Struct):
    id: UUID
    name: str
    email: str
    phone: str | None
    timezone: str


class HistoryEntry(msgspec.Struct):
    event: str
    from_status: str
    to_status: str
    actor_kind: str
    actor_id: UUID | None
    reason: str | None
    details: dict[str, Any]
    at: datetime


class AppointmentDetail(msgspec.Struct):
    id: UUID
    status: str
    version: int
    start: datetime
    end: datetime
    specialist: Ref
    calendar: CalendarRef
    patient: PatientDetail | None
    price: Price | None
    notes: str | None
    answers: dict[str, Any] | None
    allowed_actions: list[str]
    history: list[HistoryEntry]
