"""Every Dramatiq actor module, imported by ``carebook worker`` and by the job relay (which
looks actors up by name). A domain's ``actors.py`` is listed here once it has actors."""

from __future__ import annotations

import dramatiq

import bookings.actors  # noqa: F401
import carebook.broker  # noqa: F401 - sets the broker before actors are declared
import forms.actors  # noqa: F401
import notifications.actors  # noqa: F401
import reviews.actors  # noqa: F401
import video.actors  # noqa: F401


@dramatiq.actor(queue_name="default", max_retries=3)
def ping(token: str) -> str:
    """A no-op used by tests and `carebook worker --check` to prove the queue round-trips."""
    return token
