"""Reviews: a patient rates a done appointment once; low ratings raise an alert for admins.

``submit_review()`` (sql/tenant/0085) is the whole use case in one transaction; this module
checks the manage token, maps its outcomes to problems, and serves the staff lists.
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import asyncpg

from bookings.reads import patient_holds_link
from carebook.errors import CarebookError, Conflict, NotFound
from carebook.tenancy import Tenant, tenant_tx
from reviews.schemas import AlertOut, ReviewIn, ReviewOut

_REVIEW = "SELECT id, appointment_id, specialist_id, calendar_id, rating, comment, created_at "
_ALERT = """
SELECT al.id, al.review_id, al.appointment_id, r.specialist_id, s.name AS specialist_name,
       al.rating, al.threshold, r.comment, al.raised_at, al.notified_at, al.acknowledged_at,
       al.acknowledged_by, u.name AS acknowledged_by_name, al.note
FROM review_alerts al
JOIN reviews r ON r.id = al.review_id
JOIN specialists s ON s.id = r.specialist_id
LEFT JOIN staff_users u ON u.id = al.acknowledged_by
"""
_OUTCOMES: dict[str, Callable[[], CarebookError]] = {
    "appointment_not_found": lambda: NotFound(
        "This appointment link is not valid.", code="appointment_not_found"
    ),
    "review_not_open": lambda: Conflict(
        "You can review an appointment once it has taken place.", code="review_not_open"
    ),
    "already_reviewed": lambda: Conflict(
        "This appointment has already been reviewed. Thank you!", code="already_reviewed"
    ),
}


async def _check_token(
    conn: asyncpg.Connection, tenant: Tenant, appointment_id: UUID, token: str | None
) -> None:
    """The manage token or an e-mailed link token of this appointment, else a bare 404."""
    if not await patient_holds_link(conn, tenant, appointment_id, token):
        raise _OUTCOMES["appointment_not_found"]()


async def review_for_patient(
    tenant: Tenant, appointment_id: UUID, token: str | None
) -> ReviewOut | None:
    async with tenant_tx(tenant) as conn:
        await _check_token(conn, tenant, appointment_id, token)
        row = await conn.fetchrow(_REVIEW + "FROM reviews WHERE appointment_id = $1",
                                  appointment_id)  # fmt: skip
    return ReviewOut(**dict(row)) if row else None


async def submit(
    tenant: Tenant, appointment_id: UUID, token: str | None, data: ReviewIn
) -> ReviewOut:
    """The patient's review (the holder of the manage link): once, and only after ``done``."""
    async with tenant_tx(tenant) as conn:
        await _check_token(conn, tenant, appointment_id, token)
        try:
            row = await conn.fetchrow(
                "SELECT review_id FROM submit_review($1, $2, $3)",
                appointment_id, data.rating, data.comment,
            )  # fmt: skip
        except asyncpg.RaiseError as exc:
            make = _OUTCOMES.get(exc.message)
            if make is None:
                raise
            raise make() from None
        review = await conn.fetchrow(_REVIEW + "FROM reviews WHERE id = $1", row["review_id"])
    return ReviewOut(**dict(review))


async def list_reviews(
    conn: asyncpg.Connection,
    specialist_id: UUID | None,
    limit: int = 100,
    scope: UUID | None = None,
) -> list[ReviewOut]:
    """Newest first; of one specialist when given; only ``scope``'s (the caller's
    ``StaffPrincipal.appointment_scope``: their own specialist's) when given."""
    rows = await conn.fetch(
        _REVIEW + """FROM reviews WHERE ($1::uuid IS NULL OR specialist_id = $1)
                       AND ($3::uuid IS NULL OR specialist_id IN (
                           SELECT id FROM specialists WHERE staff_user = $3))
                     ORDER BY created_at DESC, id LIMIT $2""",
        specialist_id, limit, scope,
    )  # fmt: skip
    return [ReviewOut(**dict(r)) for r in rows]


async def list_alerts(conn: asyncpg.Connection, only_open: bool) -> list[AlertOut]:
    rows = await conn.fetch(
        _ALERT + " WHERE NOT $1 OR al.acknowledged_at IS NULL ORDER BY al.raised_at DESC, al.id",
        only_open,
    )
    return [AlertOut(**dict(r)) for r in rows]


async def acknowledge(
    conn: asyncpg.Connection, alert_id: UUID, staff_id: UUID, note: str | None
) -> AlertOut:
    """Record who acknowledged the alert, when, and their note; a second time is 409."""
    done = await conn.fetchval(
        """UPDATE review_alerts SET acknowledged_at = now(), acknowledged_by = $2, note = $3
           WHERE id = $1 AND acknowledged_at IS NULL RETURNING id""",
        alert_id, staff_id, (note or "").strip() or None,
    )  # fmt: skip
    if done is None:
        if await conn.fetchval("SELECT 1 FROM review_alerts WHERE id = $1", alert_id):
            raise Conflict("This alert was already acknowledged.", code="alert_acknowledged")
        raise NotFound("No such alert.", code="alert_not_found")
    row = await conn.fetchrow(_ALERT + " WHERE al.id = $1", alert_id)
    return AlertOut(**dict(row))


async def record_invitation(conn: asyncpg.Connection, appointment_id: UUID) -> bool:
    """The patient of a done appointment is invited to review (once); whether it is new."""
    created = await conn.fetchval(
        """INSERT INTO review_invitations (appointment_id)
           SELECT id FROM appointments WHERE id = $1 AND status = 'done'
           ON CONFLICT DO NOTHING RETURNING true""",
        appointment_id,
    )
    return bool(created)


async def alert_for_message(conn: asyncpg.Connection, alert_id: UUID) -> asyncpg.Record | None:
    """What the alert message says: appointment, rating, threshold and the comment."""
    row: asyncpg.Record | None = await conn.fetchrow(
        """SELECT al.appointment_id, al.rating, al.threshold, r.comment
           FROM review_alerts al JOIN reviews r ON r.id = al.review_id WHERE al.id = $1""",
        alert_id,
    )
    return row


async def mark_alert_notified(conn: asyncpg.Connection, alert_id: UUID) -> None:
    await conn.execute(
        "UPDATE review_alerts SET notified_at = coalesce(notified_at, now()) WHERE id = $1",
        alert_id,
    )
