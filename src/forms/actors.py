"""Actors of the forms domain (docs/lifecycle.md): named hooks until issue 13 fills them."""

from carebook.jobs.actor import noop_actor

generate_intake = noop_actor("forms.generate_intake", queue="forms")
generate_post_appointment = noop_actor("forms.generate_post_appointment", queue="forms")
