"""Turning a hold into a booked appointment (scheduling spec §6), idempotently."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from bookings import events, idempotency
from bookings.holds import check_hold_token, lock_specialist
from bookings.schemas import BookingIn, BookingOut, CalendarRef, Price, Ref
from carebook.errors import Conflict
from carebook.settings import get_settings
from carebook.sqlfiles import sql
from carebook.tenancy import Tenant, run_in_tenant_tx
from carebook.tokens import new_token, token_digest
from carebook.zones import valid_zone

MANAGE_TOKEN_PREFIX = "cbm"  # noqa: S105 - a label, not a secret


def manage_url(tenant: Tenant, appointment_id: UUID, token: str) -> str:
    """The patient's link to view, cancel or reschedule the appointment."""
    return f"{get_settings().base_url}/c/{tenant.slug}/manage/{appointment_id}?token={token}"


async def book(tenant: Tenant, key: str, data: BookingIn) -> dict[str, Any]:
    """Book the hold ``data.hold_id``; returns the JSON body of the 201 response.

    A retry with the same ``key`` and body returns the first response unchanged.
    """
    zone = valid_zone(data.patient.timezone, "patient.timezone")
    body = msgspec.to_builtins(data)
    digest = idempotency.request_hash(body)

    async def work(conn: asyncpg.Connection) -> dict[str, Any]:
        replay = await idempotency.claim(conn, key, digest)
        if replay is not None:
            return replay.response
        hold = await conn.fetchrow(sql("bookings", "load_hold_for_booking.sql"), data.hold_id)
        check_hold_token(hold, data.token)
        assert hold is not None
        _check_bookable(hold)
        token = new_token(MANAGE_TOKEN_PREFIX)
        out = BookingOut(
            appointment_id=hold["id"],
            status="booked",
            start=hold["starts_at"].astimezone(zone),
            end=hold["ends_at"].astimezone(zone),
            specialist=Ref(hold["specialist_id"], hold["specialist_name"]),
            calendar=CalendarRef(hold["calendar_id"], hold["calendar_name"], hold["calendar_slug"]),
            price=Price(hold["price_minor"], hold["currency"]),
            manage_url=manage_url(tenant, hold["id"], token),
        )
        response: dict[str, Any] = msgspec.to_builtins(out)
        stored, sealed = idempotency.sealed_response(key, digest, response, token)
        if hold["status"] == "expired":
            await lock_specialist(conn, hold["specialist_id"])  # it re-enters the constraint
        p = data.patient
        args = [hold["id"], p.email.strip(), p.name.strip(), p.phone, p.timezone, data.notes,
                None if data.answers is None else json.dumps(data.answers),
                token_digest(token), None, key, stored, sealed]  # fmt: skip
        try:
            patient_id = await conn.fetchval(sql("bookings", "book_hold.sql"), *args)
            if patient_id is None:
                # The same new patient was created concurrently, after this statement began.
                args[8] = await conn.fetchval(
                    "SELECT id FROM patients WHERE lower(email) = lower($1)", args[1]
                )
                await conn.fetchval(sql("bookings", "book_hold.sql"), *args)
        except asyncpg.ExclusionViolationError:
            raise Conflict(
                "The hold expired and the slot was taken meanwhile; pick another slot.",
                code="hold_expired",
            ) from None
        await events.slot_event(conn, events.SLOT_BOOKED, hold["calendar_id"],
                                hold["specialist_id"], hold["starts_at"], hold["ends_at"],
                                hold["buffer_minutes"])  # fmt: skip
        return response

    return await run_in_tenant_tx(tenant, work)


def _check_bookable(hold: asyncpg.Record) -> None:
    status = hold["status"]
    if status in ("held", "expired"):
        # An expired hold is booked anyway when its slot is still free: the constraint decides.
        return
    if status == "released":
        raise Conflict("This hold was released; pick a slot again.", code="hold_released")
    raise Conflict("This hold has already been booked.", code="hold_already_booked")
