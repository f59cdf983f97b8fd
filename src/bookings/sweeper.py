"""Releases expired holds (issue 5)."""

from __future__ import annotations


async def start_sweeper() -> None:
    """Start the expired-hold sweeper task of this process."""


async def stop_sweeper() -> None:
    """Stop it."""
