"""Wire shapes of the statistics domain."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import msgspec


class Figures(msgspec.Struct):
    """Counts by the clinic-local day of the appointment's start; rates are shares of
    ``booked`` (None when nothing was booked); utilisation = booked ÷ offered minutes."""

    booked: int
    completed: int
    cancelled: int
    no_show: int
    cancellation_rate: float | None
    no_show_rate: float | None
    average_rating: float | None
    rating_count: int
    booked_minutes: int
    offered_minutes: int
    utilisation: float | None


class GroupFigures(msgspec.Struct):
    id: UUID
    figures: Figures


class StatisticsOut(msgspec.Struct):
    start_date: date
    end_date: date
    timezone: str
    specialist_id: UUID | None
    calendar_id: UUID | None
    total: Figures
    groups: list[GroupFigures] | None = None
