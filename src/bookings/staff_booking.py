"""Booking on a patient's behalf (a receptionist taking a phone call).

The same two steps as the public page — ``hold_slot()`` then ``book_hold()`` — so every rule
and guarantee of holds and bookings holds here too; the history records the staff member.
A specialist may book only with themselves: another specialist's ``specialist_id`` is
answered as a missing one (``hold_slot()`` itself answers, so the status, code and body are
the same), and a specialist account linked to no specialist may not book (403).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from bookings import holds, idempotency
from bookings.booking import book
from bookings.lifecycle import Actor
from bookings.schemas import BookingIn, StaffBookingIn
from carebook.errors import Conflict, Forbidden
from carebook.tenancy import Tenant, tenant_tx
from tenants.staff import StaffPrincipal

# No specialist has the nil UUID (ids are gen_random_uuid()'s): hold_slot() answers it as it
# answers any missing id (calendar_not_found or specialist_not_found, in its order).
_NO_SPECIALIST = UUID(int=0)


async def book_for_caller(
    tenant: Tenant, staff: StaffPrincipal, data: StaffBookingIn, key: str | None, base_url: str
) -> dict[str, Any]:
    """Hold and book ``data.start`` for the caller; the 201 body of a booking."""
    key = idempotency.valid_key(key)  # required, as on the public path: a retry is safe
    actor = Actor.for_staff(staff)
    specialist_id = data.specialist_id
    if actor.kind == "specialist":
        async with tenant_tx(tenant) as conn:
            own = await conn.fetchval("SELECT id FROM specialists WHERE staff_user = $1", staff.id)
        if specialist_id is not None and specialist_id != own:
            specialist_id = _NO_SPECIALIST  # another's: as absent as a missing one
        elif own is None:  # no specialist to book with: the account may not book at all
            raise Forbidden("Your account is linked to no specialist, so it cannot book.",
                            code="no_specialist_linked")  # fmt: skip
        else:
            specialist_id = own
    async with tenant_tx(tenant) as conn:
        done = await conn.fetchval(
            "SELECT appointment_id FROM idempotency_keys WHERE key = $1", key
        )
    if done is not None:  # a retry of a booking that went through: never a second one
        raise Conflict("This Idempotency-Key has booked an appointment already.",
                       code="already_booked", extra={"appointment_id": str(done)})  # fmt: skip
    held = await holds.hold_slot(tenant, data.calendar_id, data.start, specialist_id)
    try:
        return await book(
            tenant, key,
            BookingIn(hold_id=held.id, token=held.token, patient=data.patient, notes=data.notes),
            base_url, actor.kind, actor.id,
        )  # fmt: skip
    except BaseException:
        await holds.release_hold(tenant, held.id, held.token)
        raise
