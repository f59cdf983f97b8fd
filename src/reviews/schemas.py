"""Wire shapes of the reviews domain."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

Rating = Annotated[int, msgspec.Meta(ge=1, le=5)]


class ReviewIn(msgspec.Struct, forbid_unknown_fields=True):
    rating: Rating
    comment: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


class ReviewOut(msgspec.Struct):
    id: UUID
    appointment_id: UUID
    specialist_id: UUID
    calendar_id: UUID
    rating: int
    comment: str | None
    created_at: datetime


class AlertOut(msgspec.Struct):
    id: UUID
    review_id: UUID
    appointment_id: UUID
    specialist_id: UUID
    specialist_name: str
    rating: int
    threshold: int
    comment: str | None
    raised_at: datetime
    notified_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: UUID | None
    acknowledged_by_name: str | None
    note: str | None


class AcknowledgeIn(msgspec.Struct, forbid_unknown_fields=True):
    note: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
