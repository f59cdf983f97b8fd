"""Piccolo tables of the tenants domain.

``Tenant`` and ``PlatformApiToken`` live in the platform schema (``public``); the staff
tables live in every clinic schema (DDL in ``sql/tenant/``) and are used inside a tenant
transaction, where ``search_path`` points at the clinic.
"""

from enum import StrEnum

from piccolo.apps.user.tables import BaseUser
from piccolo.columns import (
    JSONB,
    UUID,
    Boolean,
    Bytea,
    ForeignKey,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class TenantStatus(StrEnum):
    """The statuses a clinic can be in (the registry's CHECK constraint lists the same)."""

    active = "active"
    suspended = "suspended"


class Tenant(Table, tablename="tenants"):
    """The clinic registry. Piccolo admin edits it only through the guards in
    ``tenants.admin``: created by onboarding, slug and schema read-only, never deleted."""

    id = UUID(primary_key=True)
    slug = Varchar(length=40, unique=True, help_text="Read-only after creation.")
    schema_name = Varchar(length=63, unique=True, help_text="Read-only: derived from the slug.")
    name = Text()
    timezone = Text(help_text="An IANA time zone, e.g. Europe/Berlin.")
    settings = JSONB(default={})
    status = Varchar(
        length=16,
        default=TenantStatus.active,
        choices=TenantStatus,
        help_text="Suspended clinics take no bookings and their staff cannot sign in.",
    )
    created_at = Timestamptz()


class PlatformApiToken(Table, tablename="platform_api_tokens"):
    id = UUID(primary_key=True)
    user = ForeignKey(references=BaseUser)
    name = Text()
    token_hash = Bytea(unique=True)
    created_at = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)


class StaffUser(Table, tablename="staff_users"):
    id = UUID(primary_key=True)
    email = Text()
    name = Text()
    role = Varchar(length=16)
    password_hash = Text(null=True, default=None)
    active = Boolean(default=True)
    created_at = Timestamptz()


class StaffApiToken(Table, tablename="staff_api_tokens"):
    id = UUID(primary_key=True)
    staff_user = ForeignKey(references=StaffUser)
    name = Text()
    token_hash = Bytea(unique=True)
    created_at = Timestamptz()
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class StaffSession(Table, tablename="staff_sessions"):
    id = UUID(primary_key=True)
    staff_user = ForeignKey(references=StaffUser)
    token_hash = Bytea(unique=True)
    created_at = Timestamptz()
    expires_at = Timestamptz()
