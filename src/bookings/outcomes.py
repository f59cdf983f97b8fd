"""The 4xx outcomes that the clinic-schema functions ``hold_slot()``/``book_hold()`` raise.

They raise ``P0001`` with the outcome's code as the message (DETAIL 'carebook outcome'),
which rolls back everything the call did on the way; ``call()`` runs such a function and
turns the code into its problem.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

from carebook.errors import CarebookError, Conflict, Forbidden, NotFound, ValidationFailed
from carebook.tenancy import Tenant, call_in_schema

MARK = "carebook outcome"

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
}  # fmt: skip


async def call(tenant: Tenant, query: str, *args: Any) -> asyncpg.Record:
    """The one row of a use-case function (``call_in_schema``); its outcomes as problems."""
    try:
        return (await call_in_schema(tenant, query, *args))[0]
    except asyncpg.RaiseError as exc:
        make = _OUTCOMES.get(exc.message) if exc.detail == MARK else None
        if make is None:
            raise
        raise make() from None


def problem(code: str) -> CarebookError:
    """The problem for an outcome code (for checks made in Python)."""
    return _OUTCOMES[code]()
