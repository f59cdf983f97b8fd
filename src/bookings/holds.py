"""Holding a slot and releasing a hold (scheduling spec §6).

The availability engine (``available_slots``) decides whether ``start`` is a slot at all;
the ``appointments_no_overlap`` exclusion constraint decides who gets it. Everything a hold
changes — stale holds expired, the session's previous hold released, the new hold and its
expiry hint — is written in one transaction together with its live-update events, by one
call of the clinic-schema function ``hold_slot()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from bookings import events, outcomes
from carebook.errors import Conflict, Unauthorized
from carebook.tenancy import Tenant, run_in_tenant_tx
from carebook.tokens import digests_match, new_token, token_digest
from carebook.zones import instant_in_range

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


_HOLD_SLOT = "SELECT * FROM public.hold_slot_in($1, $2, $3, $4, $5, $6, $7, $8)"


async def hold_slot(
    tenant: Tenant,
    calendar_id: UUID,
    start: datetime,
    specialist_id: UUID | None = None,
    session_key: str | None = None,
) -> Hold:
    """Hold ``start`` of ``calendar_id`` for the clinic's hold minutes.

    One call of the clinic-schema function ``hold_slot()`` (bookings/sql/tenant/0024):
    ``place_hold()`` plus its live-update events, in the statement's own transaction.
    Raises NotFound (calendar/specialist), ValidationFailed ``invalid_slot`` when ``start`` is
    no slot of the calendar, Conflict ``slot_unavailable`` when it is held or booked.
    """
    instant_in_range(start, "start")
    token = new_token(HOLD_TOKEN_PREFIX)
    args = (calendar_id, start, specialist_id, session_key, token_digest(token),
            tenant.settings.hold_minutes, tenant.timezone)  # fmt: skip
    for attempt in range(_SESSION_RETRIES):
        try:
            row = await outcomes.call(tenant, _HOLD_SLOT, *args)
        except asyncpg.UniqueViolationError as exc:
            # Two holds of one session_key committed at once: the retry releases the winner's.
            if exc.constraint_name != "appointments_session_hold_key":
                raise
            if attempt == _SESSION_RETRIES - 1:
                raise Conflict(
                    "Another hold of this session is being placed; try again.",
                    code="session_busy",
                ) from None
            continue
        return Hold(row["id"], token, row["expires_at"], row["specialist_id"], start,
                    row["ends_at"])  # fmt: skip
    raise AssertionError("unreachable")


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
            raise outcomes.problem("hold_already_booked")
        await conn.execute(
            "UPDATE appointments SET status = 'released', updated_at = now() WHERE id = $1",
            hold_id,
        )
        await events.slot_released(conn, row)

    await run_in_tenant_tx(tenant, work)


def check_hold_token(row: asyncpg.Record | None, token: str) -> None:
    """404 for an unknown hold, 403 for a wrong token (compared in constant time)."""
    if row is None or row["hold_token_hash"] is None:
        raise outcomes.problem("hold_not_found")
    if not digests_match(row["hold_token_hash"], token_digest(token)):
        raise outcomes.problem("invalid_hold_token")
