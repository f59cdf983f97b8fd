"""Actors of the reviews domain (docs/lifecycle.md): named hooks until issue 13 fills them."""

from carebook.jobs.actor import noop_actor

invite = noop_actor("reviews.invite", queue="reviews")
