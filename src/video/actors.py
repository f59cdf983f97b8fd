"""Actors of the video domain (docs/lifecycle.md): named hooks until issue 14 fills them."""

from carebook.jobs.actor import noop_actor

create_room = noop_actor("video.create_room", queue="video")
activate_room = noop_actor("video.activate_room", queue="video")
delete_room = noop_actor("video.delete_room", queue="video")
move_room = noop_actor("video.move_room", queue="video")
