"""The 4xx outcomes that the clinic-schema functions ``hold_slot()``/``book_hold()`` raise.

They raise ``P0001`` with the outcome's code as the message (DETAIL 'carebook outcome'),
which rolls back everything the call did on the way; ``call()`` runs such a function and
turns the code into its problem.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import asyncpg

from carebook.errors import CarebookError, Conflict, Forbidden, NotFound, ValidationFailed
from carebook.tenancy import Tenant, call_in_schema

MARK = "carebook outcome"


def appointment_not_found() -> NotFound:
    """The 404 for an appointment the caller may not see: missing, a hold, or (for a
    specialist) another's. Every staff-side raiser uses this one text."""
    return NotFound("No such appointment.", code="appointment_not_found")


_OUTCOMES: dict[str, Callable[[], CarebookError]] = {
    "calendar_not_found": lambda: NotFound("There is no such calendar.",
                                           code="calendar_not_found"),
    "specialist_not_found": lambda: NotFound("There is no such specialist.",
                                             code="specialist_not_found"),
    "not_assigned": lambda: ValidationFailed.field(
        "specialist_id", "This specialist does not take appointments in this calendar.",
        code="invalid_slot"),
    "invalid_slot": lambda: ValidationFailed.field(
        "start", "This is not a bookable slot of the calendar.", code="invalid_slot"),
    "slot_unavailable": lambda: Conflict("This slot is held or booked right now.",
                                         code="slot_unavailable"),
    "hold_not_found": lambda: NotFound("There is no such hold.", code="hold_not_found"),
    "invalid_hold_token": lambda: Forbidden("The hold token is wrong.",
                                            code="invalid_hold_token"),
    "hold_released": lambda: Conflict("This hold was released; pick a slot again.",
                                      code="hold_released"),
    "hold_already_booked": lambda: Conflict("This hold has already been booked.",
                                            code="hold_already_booked"),
    # The lifecycle (docs/lifecycle.md).
    "appointment_not_found": appointment_not_found,
    "version_conflict": lambda: Conflict(
        "The appointment changed since you loaded it; reload it and try again.",
        code="version_conflict"),
    "invalid_transition": lambda: Conflict(
        "This action is not possible in the appointment's current state.",
        code="invalid_transition"),
    # A specialist acting on another specialist's appointment: as absent as a missing one
    # (the same 404, code and body), so a write never tells that the appointment exists.
    "not_your_appointment": lambda: _OUTCOMES["appointment_not_found"](),
    "too_early": lambda: Conflict("It is too early for this action.", code="too_early"),
    "cancellation_cutoff_passed": lambda: Conflict(
        "It is too late to change this appointment online; please call the clinic.",
        code="cancellation_cutoff_passed"),
    "intake_forms_missing": lambda: Conflict(
        "Required intake forms have not been submitted yet.", code="intake_forms_missing"),
}  # fmt: skip


async def call(tenant: Tenant, query: str, *args: Any) -> asyncpg.Record:
    """The one row of a use-case function (``call_in_schema``); its outcomes as problems."""
    try:
        return (await call_in_schema(tenant, query, *args))[0]
    except asyncpg.RaiseError as exc:
        raise as_problem(exc) from None


def as_problem(exc: asyncpg.RaiseError) -> Exception:
    """The problem for an outcome a clinic-schema function raised (``exc`` itself otherwise);
    a JSON object in the HINT becomes extra members of the problem (e.g. ``allowed``)."""
    make = _OUTCOMES.get(exc.message) if exc.detail == MARK else None
    if make is None:
        original: Exception = exc
        return original
    problem_: CarebookError = make()
    if exc.hint:
        extra = json.loads(exc.hint)
        if extra:
            problem_.extra.update(extra)
            if "allowed" in extra:
                allowed = ", ".join(extra["allowed"]) or "none"
                problem_.detail = (
                    f"'{extra.get('action')}' is not possible while the "
                    f"appointment is {extra.get('status')}; allowed: {allowed}."
                )
            elif "missing" in extra:
                problem_.detail = (
                    "Required intake forms are missing: " + ", ".join(extra["missing"]) + "."
                )
    return problem_


def problem(code: str) -> CarebookError:
    """The problem for an outcome code (for checks made in Python)."""
    return _OUTCOMES[code]()
