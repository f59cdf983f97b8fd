"""Hand-written SQL lives in ``<package>/sql/*.sql`` and is loaded by name."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def sql(package: str, name: str) -> str:
    """The text of ``<package>/sql/<name>`` (e.g. ``sql("calendars", "slots.sql")``)."""
    return resources.files(package).joinpath("sql", name).read_text(encoding="utf-8")
