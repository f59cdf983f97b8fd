"""Read-only views of appointments for other domains (the patient pages)."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from bookings import manage_links
from carebook.sqlfiles import sql
from carebook.tenancy import Tenant


async def manage_view(conn: asyncpg.Connection, appointment_id: UUID) -> asyncpg.Record | None:
    """What a patient holding the manage link may see of one appointment (with its token hash,
    which the caller must check)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        sql("bookings", "manage_view.sql"), appointment_id
    )
    return row


async def patient_holds_link(
    conn: asyncpg.Connection, tenant: Tenant, appointment_id: UUID, token: str | None
) -> bool:
    """Whether ``token`` opens this appointment's manage page: the manage token itself or a
    link token e-mailed by the notifications domain (``manage_links.token_valid``)."""
    if not token:
        return False
    row = await manage_view(conn, appointment_id)
    return row is not None and manage_links.token_valid(
        tenant, appointment_id, bytes(row["manage_token_hash"]), token
    )
