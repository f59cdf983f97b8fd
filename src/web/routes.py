"""HTTP routes of the web domain."""

from __future__ import annotations

from typing import Any

route_handlers: list[Any] = []
