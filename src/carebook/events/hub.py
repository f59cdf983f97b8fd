"""The per-process LISTEN connection and its fan-out to subscribers (issue 6)."""

from __future__ import annotations


async def start_hub() -> None:
    """Open this process's LISTEN connection."""


async def stop_hub() -> None:
    """End every stream and close the LISTEN connection."""
