"""Wire shapes of the tenants domain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

# Explicit whitespace, not \s: Python and JSON Schema (ECMA 262) regexes disagree on which
# Unicode characters \s matches, and the OpenAPI document publishes this pattern.
Email = Annotated[
    str,
    msgspec.Meta(pattern=r"^[^@ \t\n\r\f\v]+@[^@ \t\n\r\f\v]+\.[^@ \t\n\r\f\v]+$", max_length=254),
]


class ClinicCreate(msgspec.Struct, forbid_unknown_fields=True):
    slug: Annotated[str, msgspec.Meta(max_length=40)]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    timezone: Annotated[str, msgspec.Meta(max_length=64)]
    admin_email: Email
    admin_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] = "Clinic admin"


class ClinicOut(msgspec.Struct):
    id: UUID
    slug: str
    name: str
    timezone: str
    status: Literal["active", "suspended"]
    settings: dict[str, Any]
    created_at: datetime


class OnboardedClinic(msgspec.Struct):
    clinic: ClinicOut
    admin_token: str
    """Shown once: the clinic admin's API token (stored hashed)."""
    admin_set_password_url: str = ""
    """The clinic admin's one-time link to choose a password for the staff pages."""


class StaffCreate(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    role: Literal["admin", "receptionist", "specialist"]
    password: Annotated[str, msgspec.Meta(min_length=10, max_length=200)] | None = None


class StaffOut(msgspec.Struct):
    id: UUID
    email: str
    name: str
    role: str
    active: bool


class TokenCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] = "api"


class TokenOut(msgspec.Struct):
    id: UUID
    name: str
    created_at: datetime
    revoked_at: datetime | None = None
    token: str | None = None


class LoginIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Annotated[str, msgspec.Meta(max_length=200)]


class LoginOut(msgspec.Struct):
    staff: StaffOut
    csrf_token: str


class ClinicSettingsPatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Clinic settings a clinic admin may change; omitted fields stay, ``null`` clears a
    contact field. Contact details are shown on booking pages, in messages and in the .ics."""

    address: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=300)] | msgspec.UnsetType | None
    ) = msgspec.UNSET
    phone: Annotated[str, msgspec.Meta(min_length=3, max_length=40)] | msgspec.UnsetType | None = (
        msgspec.UNSET
    )
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=254)] | msgspec.UnsetType | None = (
        msgspec.UNSET
    )
    website: (
        Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s/$.?#][^\s]*$", max_length=300)]
        | msgspec.UnsetType
        | None
    ) = msgspec.UNSET
    country: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{2}$")] | msgspec.UnsetType | None = (
        msgspec.UNSET
    )
    default_language: (
        Annotated[str, msgspec.Meta(min_length=2, max_length=16)] | msgspec.UnsetType
    ) = msgspec.UNSET
    reminder_leads_hours: (
        Annotated[list[Annotated[int, msgspec.Meta(ge=1, le=336)]], msgspec.Meta(max_length=5)]
        | msgspec.UnsetType
    ) = msgspec.UNSET
