"""Wire shapes of the calendars domain (staff API, public catalog and slots)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
# Explicit whitespace, not \s: Python and JSON Schema (ECMA 262) regexes disagree on which
# Unicode characters \s matches, and the OpenAPI document publishes this pattern.
Email = Annotated[
    str,
    msgspec.Meta(pattern=r"^[^@ \t\n\r\f\v]+@[^@ \t\n\r\f\v]+\.[^@ \t\n\r\f\v]+$", max_length=254),
]
Zone = Annotated[str, msgspec.Meta(max_length=64)]
Instant = Annotated[datetime, msgspec.Meta(tz=True)]
"""An instant with its offset (a naive date-time is refused by the schema itself)."""
Buffer = Annotated[int, msgspec.Meta(ge=0, le=240)]
Duration = Annotated[int, msgspec.Meta(ge=5, le=480)]
Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$", max_length=64)]
CalendarKind = Literal["standard", "promotional", "campaign"]


class SpecialistIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    email: Email
    timezone: Zone
    buffer_minutes: Buffer = 0
    active: bool = True
    staff_user: UUID | None = None


class SpecialistPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | UnsetType = UNSET
    email: Email | UnsetType = UNSET
    timezone: Zone | UnsetType = UNSET
    buffer_minutes: Buffer | UnsetType = UNSET
    active: bool | UnsetType = UNSET
    staff_user: UUID | UnsetType | None = UNSET


class SpecialistOut(msgspec.Struct):
    id: UUID
    name: str
    email: str
    timezone: str
    buffer_minutes: int
    active: bool
    staff_user: UUID | None


class WeeklyInterval(msgspec.Struct, forbid_unknown_fields=True):
    """One local wall-clock interval on an ISO weekday (1 = Monday); ``24:00`` ends a day."""

    isodow: int
    start: str
    end: str


class TimeInterval(msgspec.Struct, forbid_unknown_fields=True):
    start: str
    end: str


class OverrideIn(msgspec.Struct, forbid_unknown_fields=True):
    """A day off (``unavailable`` + reason) or custom hours, for one date or a range."""

    start_date: date
    kind: Literal["unavailable", "custom_hours"]
    end_date: date | None = None
    reason: Literal["holiday", "sick", "other"] | None = None
    intervals: list[TimeInterval] = []


class OverrideOut(msgspec.Struct):
    id: UUID
    specialist_id: UUID
    start_date: date
    end_date: date
    kind: str
    reason: str | None
    intervals: list[TimeInterval]


class ClosureIn(msgspec.Struct, forbid_unknown_fields=True):
    start_date: date
    end_date: date | None = None
    reason: Annotated[str, msgspec.Meta(max_length=500)] = ""


class ClosureOut(msgspec.Struct):
    id: UUID
    start_date: date
    end_date: date
    reason: str


class ServiceIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    default_duration_minutes: Duration
    description: Annotated[str, msgspec.Meta(max_length=5000)] = ""
    active: bool = True


class ServicePatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | UnsetType = UNSET
    default_duration_minutes: Duration | UnsetType = UNSET
    description: Annotated[str, msgspec.Meta(max_length=5000)] | UnsetType = UNSET
    active: bool | UnsetType = UNSET


class ServiceOut(msgspec.Struct):
    id: UUID
    name: str
    description: str
    default_duration_minutes: int
    active: bool


class CalendarIn(msgspec.Struct, forbid_unknown_fields=True):
    service_id: UUID
    name: Name
    slug: Slug
    price_minor: Annotated[int, msgspec.Meta(ge=0, le=10**12)]
    currency: Annotated[str, msgspec.Meta(min_length=3, max_length=3)]
    duration_minutes: Duration
    kind: CalendarKind = "standard"
    slot_interval_minutes: Duration | None = None
    min_notice_minutes: Annotated[int, msgspec.Meta(ge=0, le=525600)] = 120
    horizon_days: Annotated[int, msgspec.Meta(ge=1, le=730)] = 60
    active_from: Instant | None = None
    active_until: Instant | None = None
    special_hours: list[WeeklyInterval] = []
    listed: bool = True
    active: bool = True
    video: bool = False
    specialist_ids: list[UUID] = []
    required_form_ids: list[UUID] = []


class CalendarPatch(msgspec.Struct, forbid_unknown_fields=True):
    service_id: UUID | UnsetType = UNSET
    name: Name | UnsetType = UNSET
    slug: Slug | UnsetType = UNSET
    price_minor: Annotated[int, msgspec.Meta(ge=0, le=10**12)] | UnsetType = UNSET
    currency: Annotated[str, msgspec.Meta(min_length=3, max_length=3)] | UnsetType = UNSET
    duration_minutes: Duration | UnsetType = UNSET
    kind: CalendarKind | UnsetType = UNSET
    slot_interval_minutes: Duration | UnsetType | None = UNSET
    min_notice_minutes: Annotated[int, msgspec.Meta(ge=0, le=525600)] | UnsetType = UNSET
    horizon_days: Annotated[int, msgspec.Meta(ge=1, le=730)] | UnsetType = UNSET
    active_from: Instant | UnsetType | None = UNSET
    active_until: Instant | UnsetType | None = UNSET
    special_hours: list[WeeklyInterval] | UnsetType = UNSET
    listed: bool | UnsetType = UNSET
    active: bool | UnsetType = UNSET
    video: bool | UnsetType = UNSET
    specialist_ids: list[UUID] | UnsetType = UNSET
    required_form_ids: list[UUID] | UnsetType = UNSET


class CalendarOut(msgspec.Struct):
    id: UUID
    service_id: UUID
    name: str
    slug: str
    kind: str
    price_minor: int
    currency: str
    duration_minutes: int
    slot_interval_minutes: int | None
    min_notice_minutes: int
    horizon_days: int
    active_from: datetime | None
    active_until: datetime | None
    special_hours: list[WeeklyInterval]
    listed: bool
    active: bool
    video: bool
    specialist_ids: list[UUID]
    required_form_ids: list[UUID]


class PublicSpecialist(msgspec.Struct):
    id: UUID
    name: str


class PublicCalendar(msgspec.Struct):
    id: UUID
    slug: str
    name: str
    kind: str
    price_minor: int
    currency: str
    duration_minutes: int
    specialists: list[PublicSpecialist]
    service_id: UUID
    service_name: str
    horizon_days: int = 60


class PublicService(msgspec.Struct):
    id: UUID
    name: str
    description: str
    calendars: list[PublicCalendar]


class ClinicInfo(msgspec.Struct):
    slug: str
    name: str
    timezone: str


class Catalog(msgspec.Struct):
    clinic: ClinicInfo
    services: list[PublicService]


UuidText = Annotated[str, msgspec.Meta(extra_json_schema={"format": "uuid"})]
IsoInstant = Annotated[str, msgspec.Meta(extra_json_schema={"format": "date-time"})]


class SlotOut(msgspec.Struct):
    start: IsoInstant
    end: IsoInstant
    specialist_ids: list[UuidText]


class DayOut(msgspec.Struct):
    date: str
    slots: list[SlotOut]
    closed: Annotated[
        str | None,
        msgspec.Meta(
            description="Reason of the clinic closure(s) overlapping this local date "
            '("" when none was given); null when the clinic is open.'
        ),
    ] = None


class SlotsOut(msgspec.Struct):
    calendar_id: UUID
    timezone: str
    duration_minutes: int
    days: list[DayOut]
