"""Every Dramatiq actor module, imported by ``carebook worker``.

Each domain's ``actors.py`` is listed here once its actors exist.
"""

from __future__ import annotations

import dramatiq

import carebook.broker  # noqa: F401 - sets the broker before actors are declared


@dramatiq.actor(queue_name="default", max_retries=3)
def ping(token: str) -> str:
    """A no-op used by tests and `carebook worker --check` to prove the queue round-trips."""
    return token
