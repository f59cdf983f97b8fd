"""Local wall-clock intervals (``HH:MM``–``HH:MM``, ``24:00`` as an end): parsing and checks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from carebook.errors import ValidationFailed

_HHMM = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")
DAY_END = "24:00"


@dataclass(frozen=True)
class LocalInterval:
    """A validated interval; ``isodow`` is 0 for date-bound intervals (overrides)."""

    isodow: int
    start: str
    end: str

    @property
    def start_minute(self) -> int:
        return minutes(self.start)

    @property
    def end_minute(self) -> int:
        return minutes(self.end)


def minutes(hhmm: str) -> int:
    return 1440 if hhmm == DAY_END else int(hhmm[:2]) * 60 + int(hhmm[3:])


def _error(field: str, index: int, message: str) -> dict[str, Any]:
    return {"field": f"{field}[{index}]", "index": index, "message": message}


def validate_intervals(
    items: Sequence[Any], field: str = "intervals", *, weekly: bool = True
) -> list[LocalInterval]:
    """Check shape, emptiness and overlaps; 422 whose ``errors`` name each bad interval.

    ``items`` have ``start``/``end`` (and ``isodow`` when ``weekly``). Touching intervals
    (09:00–12:00, 12:00–17:00) are allowed: they form one contiguous window.
    """
    errors: list[dict[str, Any]] = []
    parsed: list[tuple[int, LocalInterval]] = []
    for i, item in enumerate(items):
        isodow = int(getattr(item, "isodow", 0)) if weekly else 0
        if weekly and not 1 <= isodow <= 7:
            errors.append(_error(field, i, "isodow must be 1 (Monday) to 7 (Sunday)."))
            continue
        start, end = item.start, item.end
        if not _HHMM.fullmatch(start):
            errors.append(_error(field, i, f"start '{start}' is not HH:MM (00:00-23:59)."))
            continue
        if not (_HHMM.fullmatch(end) or end == DAY_END):
            errors.append(_error(field, i, f"end '{end}' is not HH:MM (00:00-24:00)."))
            continue
        if minutes(end) <= minutes(start):
            errors.append(_error(field, i, f"{start}-{end} is empty: end must be after start."))
            continue
        parsed.append((i, LocalInterval(isodow, start, end)))
    by_day: dict[int, list[tuple[int, LocalInterval]]] = {}
    for i, iv in parsed:
        by_day.setdefault(iv.isodow, []).append((i, iv))
    bad: set[int] = set()
    for day in by_day.values():
        day.sort(key=lambda pair: pair[1].start_minute)
        # Compare with the interval reaching furthest so far; blame the one given later.
        (reach_i, reach) = day[0]
        for i, cur in day[1:]:
            if cur.start_minute < reach.end_minute:
                culprit, other = (i, reach) if i > reach_i else (reach_i, cur)
                if culprit not in bad:
                    bad.add(culprit)
                    errors.append(_error(field, culprit, f"overlaps {other.start}-{other.end}."))
            if cur.end_minute > reach.end_minute:
                reach_i, reach = i, cur
    if errors:
        errors.sort(key=lambda e: int(e["index"]))
        raise ValidationFailed(
            "; ".join(f"{e['field']}: {e['message']}" for e in errors),
            code="invalid_intervals",
            errors=errors,
        )
    return [iv for _, iv in parsed]
