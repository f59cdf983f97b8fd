"""Holding a slot and releasing a hold (scheduling spec §6).

The availability engine (``available_slots``) decides whether ``start`` is a slot at all;
the ``appointments_no_overlap`` exclusion constraint decides who gets it. Everything a hold
changes — stale holds expired, the session's previous hold released, the new hold and its
expiry hint — is written in one transaction together with its live-update events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from bookings import events
from carebook.errors import (
    CarebookError,
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from carebook.tenancy import Tenant, run_in_tenant_tx
from carebook.tokens import digests_match, new_token, token_digest

HOLD_TOKEN_PREFIX = "cbh"  # noqa: S105 - a label, not a secret
_SESSION_RETRIES = 3


@dataclass(frozen=True)
class Hold:
    """A fresh hold; ``token`` is the only clear copy of its secret."""

    id: UUID
    token: str
    expires_at: datetime
    specialist_id: UUID
    start: datetime
    end: datetime


class _SessionRace(Exception):
    """Two holds of one session_key committed at once; the retry releases the winner's."""


async def hold_slot(
    tenant: Tenant,
    calendar_id: UUID,
    start: datetime,
    specialist_id: UUID | None = None,
    session_key: str | None = None,
) -> Hold:
    """Hold ``start`` of ``calendar_id`` for the clinic's hold minutes.

    Raises NotFound (calendar/specialist), ValidationFailed ``invalid_slot`` when ``start`` is
    no slot of the calendar, Conflict ``slot_unavailable`` when it is held or booked.
    """
    token = new_token(HOLD_TOKEN_PREFIX)

    async def work(conn: asyncpg.Connection) -> Hold:
        return await _hold_in_tx(
            conn, tenant, calendar_id, start, specialist_id, session_key, token
        )

    for attempt in range(_SESSION_RETRIES):
        try:
            return await run_in_tenant_tx(tenant, work)
        except _SessionRace:
            if attempt == _SESSION_RETRIES - 1:
                raise Conflict(
                    "Another hold of this session is being placed; try again.",
                    code="session_busy",
                ) from None
    raise AssertionError("unreachable")


def _outcome_error(kind: str) -> CarebookError | None:
    """The problem ``place_hold()`` reported, or None for a 'held'/'released' row."""
    if kind == "calendar_not_found":
        return NotFound("There is no such calendar.", code="calendar_not_found")
    if kind == "specialist_not_found":
        return NotFound("There is no such specialist.", code="specialist_not_found")
    if kind == "not_assigned":
        return ValidationFailed.field(
            "specialist_id",
            "This specialist does not take appointments in this calendar.",
            code="invalid_slot",
        )
    if kind == "invalid_slot":
        return ValidationFailed.field(
            "start", "This is not a bookable slot of the calendar.", code="invalid_slot"
        )
    if kind == "slot_unavailable":
        return Conflict("This slot is held or booked right now.", code="slot_unavailable")
    return None


async def _hold_in_tx(
    conn: asyncpg.Connection,
    tenant: Tenant,
    calendar_id: UUID,
    start: datetime,
    specialist_id: UUID | None,
    session_key: str | None,
    token: str,
) -> Hold:
    try:
        rows = await conn.fetch(
            "SELECT * FROM place_hold($1, $2, $3, $4, $5, $6, $7)",
            calendar_id,
            start,
            specialist_id,
            session_key,
            token_digest(token),
            tenant.settings.hold_minutes,
            tenant.timezone,
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "appointments_session_hold_key":
            raise _SessionRace from exc
        raise
    held = None
    for row in rows:
        if (error := _outcome_error(row["kind"])) is not None:
            raise error  # rolls back whatever place_hold() released on the way
        if row["kind"] == "held":
            held = row
    assert held is not None, rows
    # Events last: publishing serialises the clinic's writers until commit.
    for row in rows:
        if row["kind"] == "released":
            await events.slot_released(conn, row)
    await events.slot_event(conn, events.SLOT_HELD, calendar_id, held["specialist_id"], start,
                            held["ends_at"], held["buffer_minutes"])  # fmt: skip
    return Hold(held["id"], token, held["expires_at"], held["specialist_id"], start,
                held["ends_at"])  # fmt: skip


async def lock_specialist(conn: asyncpg.Connection, specialist_id: UUID) -> None:
    """Queue writers that enter a specialist's exclusion constraint, until commit.

    Two transactions inserting conflicting rows at once can each wait for the other inside
    the exclusion check (PostgreSQL then breaks the deadlock after deadlock_timeout). Taking
    this lock first lets the later writer see the earlier one committed: an immediate 23P01.
    ``place_hold()`` (SQL) takes the same lock.
    """
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '/' || $1::text, 0))",
        str(specialist_id),
    )


async def release_hold(tenant: Tenant, hold_id: UUID, token: str | None) -> None:
    """Release a hold (idempotent for holds already released or expired)."""
    if not token:
        raise Unauthorized("Send the hold's token in the X-Hold-Token header.",
                           code="hold_token_required")  # fmt: skip

    async def work(conn: asyncpg.Connection) -> None:
        row = await conn.fetchrow(
            "SELECT id, calendar_id, specialist_id, starts_at, ends_at, status, hold_expires_at, "
            "hold_token_hash FROM appointments WHERE id = $1 FOR UPDATE",
            hold_id,
        )
        check_hold_token(row, token)
        assert row is not None
        if row["status"] in ("released", "expired"):
            return
        if row["status"] != "held":
            raise Conflict("This hold has already been booked.", code="hold_already_booked")
        await conn.execute(
            "UPDATE appointments SET status = 'released', updated_at = now() WHERE id = $1",
            hold_id,
        )
        await events.slot_released(conn, row)

    await run_in_tenant_tx(tenant, work)


def check_hold_token(row: asyncpg.Record | None, token: str) -> None:
    """404 for an unknown hold, 403 for a wrong token (compared in constant time)."""
    if row is None or row["hold_token_hash"] is None:
        raise NotFound("There is no such hold.", code="hold_not_found")
    if not digests_match(row["hold_token_hash"], token_digest(token)):
        raise Forbidden("The hold token is wrong.", code="invalid_hold_token")
