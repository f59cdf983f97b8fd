"""Video outcomes, mapped to RFC 9457 problems by ``carebook.errors``."""

from __future__ import annotations

from carebook.errors import CarebookError, Conflict, Forbidden, NotFound


class VideoProviderError(CarebookError):
    """The provider refused or failed a request we believe was right (retry may help)."""

    status, code, title = 502, "video_provider_error", "The video service failed"


class VideoProviderUnavailable(VideoProviderError):
    """5xx or rate limits that outlasted our retries."""

    status, code, title = 503, "video_provider_unavailable", "The video service is unavailable"

    def __init__(self, detail: str, retry_after: int = 30) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class VideoProviderMisconfigured(VideoProviderError):
    """Missing or wrong API key (Daily 400 authorization-header-error / 401 / 403)."""

    code, title = "video_provider_misconfigured", "The video service is not set up correctly"


class VideoProviderRejected(VideoProviderError):
    """Daily's 400 invalid-request-error / json-parsing-error: our request was wrong."""

    code, title = "video_provider_rejected", "The video service rejected the request"


class RoomNotFound(NotFound):
    code, title = "video_room_not_found", "No video room"


class RoomAlreadyExists(Conflict):
    """Raised by a provider's raw create when the (deterministic) name is taken."""

    code, title = "video_room_exists", "The video room already exists"


class JoinWindowClosed(Forbidden):
    code, title = "video_window_closed", "The video room is not open"


class NotAVideoAppointment(Conflict):
    code, title = "not_a_video_appointment", "This appointment is not a video consultation"
