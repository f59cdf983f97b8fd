"""Turning a hold into a booked appointment (scheduling spec §6), idempotently.

The whole use case is one call of the clinic-schema function ``book_hold()``
(bookings/sql/tenant/0024): claim the Idempotency-Key, check and book the hold, find or
create the patient, store the booking's snapshot under the key and publish ``slot.booked``.
The response is rendered here from that snapshot, for the first attempt and for every replay
alike, so a retry with the same key and body gets the same body.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

from bookings import idempotency, outcomes
from bookings.schemas import BookingIn, BookingOut, CalendarRef, Price, Ref
from carebook.contact import normalize_email, normalize_phone, region_for
from carebook.errors import Conflict
from carebook.tenancy import Tenant
from carebook.tokens import new_token, token_digest
from carebook.zones import valid_zone

MANAGE_TOKEN_PREFIX = "cbm"  # noqa: S105 - a label, not a secret
_BOOK_HOLD = (
    "SELECT * FROM public.book_hold_in("
    "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
)


def manage_url(base_url: str, tenant: Tenant, appointment_id: UUID, token: str) -> str:
    """The patient's link to view, cancel or reschedule the appointment."""
    return f"{base_url}/c/{tenant.slug}/manage/{appointment_id}?token={token}"


async def book(
    tenant: Tenant,
    key: str,
    data: BookingIn,
    base_url: str,
    actor_kind: str = "patient",
    actor_id: UUID | None = None,
    language: str | None = None,
) -> dict[str, Any]:
    """Book the hold ``data.hold_id``; returns the JSON body of the 201 response.

    A retry with the same ``key`` and body returns the first response unchanged; the same
    key with another body is a 422 ``idempotency_key_reused``. ``base_url`` prefixes the
    manage link (``carebook.urls.public_base_url``); ``actor_kind``/``actor_id`` say who
    booked (the patient, or a staff member for a caller) in the history. ``language``: the
    one the patient chose on the page, recorded with the booking for its messages.
    """
    zone = valid_zone(data.patient.timezone, "patient.timezone")
    # Input quality (docs/notifications.md): e-mail syntax checked, phone stored as E.164.
    email = normalize_email(data.patient.email, "patient.email")
    phone = normalize_phone(
        data.patient.phone, region_for(tenant.settings.country, tenant.timezone), "patient.phone"
    )
    digest = idempotency.request_hash(msgspec.to_builtins(data))
    token = new_token(MANAGE_TOKEN_PREFIX)
    p = data.patient
    try:
        row = await outcomes.call(
            tenant, _BOOK_HOLD,
            key, digest, data.hold_id, token_digest(data.token), email,
            p.name.strip(), phone, p.timezone, data.notes,
            None if data.answers is None else json.dumps(data.answers),
            token_digest(token), idempotency.seal(key, digest, token), actor_kind, actor_id,
            language,
        )  # fmt: skip
    except asyncpg.ExclusionViolationError:
        raise Conflict(
            "The hold expired and the slot was taken meanwhile; pick another slot.",
            code="hold_expired",
        ) from None
    if row["replayed"]:
        token = idempotency.replayed_token(key, digest, row["request_hash"], row["sealed_secret"])
    return _render(tenant, json.loads(row["snapshot"]), zone, token, base_url)


def _render(
    tenant: Tenant, snap: dict[str, Any], zone: ZoneInfo, token: str, base_url: str
) -> dict[str, Any]:
    """The 201 body from ``book_hold()``'s snapshot, instants in the patient's zone."""
    appointment_id = UUID(snap["appointment_id"])
    cal = snap["calendar"]
    out = BookingOut(
        appointment_id=appointment_id,
        status="booked",
        start=datetime.fromisoformat(snap["start"]).astimezone(zone),
        end=datetime.fromisoformat(snap["end"]).astimezone(zone),
        specialist=Ref(UUID(snap["specialist"]["id"]), snap["specialist"]["name"]),
        calendar=CalendarRef(UUID(cal["id"]), cal["name"], cal["slug"]),
        price=Price(snap["price"]["amount_minor"], snap["price"]["currency"]),
        manage_url=manage_url(base_url, tenant, appointment_id, token),
    )
    body: dict[str, Any] = msgspec.to_builtins(out)
    return body
