"""Actors of the notifications domain (docs/lifecycle.md): named hooks until issue 12."""

from carebook.jobs.actor import noop_actor

booked = noop_actor("notifications.booked", queue="notifications")
upcoming = noop_actor("notifications.upcoming", queue="notifications")
confirmed = noop_actor("notifications.confirmed", queue="notifications")
cancelled = noop_actor("notifications.cancelled", queue="notifications")
rescheduled = noop_actor("notifications.rescheduled", queue="notifications")
