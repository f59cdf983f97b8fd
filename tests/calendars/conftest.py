"""Fixtures of the calendars tests: a pinnable clock for the slots endpoint."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import pytest


@pytest.fixture
def pin_clock(client) -> Iterator[Callable[[datetime], None]]:
    """``pin_clock(instant)`` makes the app's clock return ``instant`` for this test."""
    app = client._transport.app

    def pin(instant: datetime) -> None:
        app.state.clock = lambda: instant

    yield pin
    app.state.clock = None
