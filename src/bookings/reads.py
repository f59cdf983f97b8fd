"""Read-only views of appointments for other domains (the patient pages)."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from carebook.sqlfiles import sql


async def manage_view(conn: asyncpg.Connection, appointment_id: UUID) -> asyncpg.Record | None:
    """What a patient holding the manage link may see of one appointment (with its token hash,
    which the caller must check)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        sql("bookings", "manage_view.sql"), appointment_id
    )
    return row
