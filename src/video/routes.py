"""HTTP routes of the video domain: the room page and its signalling websocket (built-in
provider), the staff join URL, and the patient's recording consent."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, WebSocket, get, post, websocket
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import WebSocketDisconnect
from litestar.params import Body, FromPath, FromQuery, JSONBody
from litestar.response import Redirect, Template

from carebook.errors import CarebookError, problem
from carebook.openapi import RATE_LIMITED, problems
from carebook.ratelimit import limit
from carebook.tenancy import Tenant
from tenants.guards import PUBLIC, STAFF, StaffPrincipal, provide_public_tenant
from video import access, consent, recordings, rooms, signalling
from video.config import get_video_settings
from video.errors import VideoProviderError
from video.pages import manage_section
from video.providers import Participant, provider_named
from web.display import zone_or
from web.errors import HTML_EXCEPTION_HANDLERS, PAGE_HEADERS, error_page

log = logging.getLogger(__name__)

MANAGE_TOKEN_HEADER = "X-Manage-Token"  # noqa: S105 - a header name
PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
# The room page also needs the camera and microphone (and nothing else).
ROOM_HEADERS = {**PRIVATE_HEADERS, "Permissions-Policy": "camera=(self), microphone=(self)"}


def room_path(tenant: Tenant, appointment_id: Any, token: str) -> str:
    return f"/c/{tenant.slug}/video/{appointment_id}?token={quote(token, safe='')}"


def opening_text(at: datetime, zone_name: str) -> str:
    zone = zone_or(zone_name, "UTC")
    local = at.astimezone(zone)
    today = datetime.now(UTC).astimezone(zone).date()
    day = "" if local.date() == today else f" on {local:%A}, {local.day} {local:%B}"
    return f"The room opens at {local:%H:%M} your time{day} ({zone.key})."


def _room_error(exc: CarebookError, tenant: Tenant) -> Template:
    """A room page's error, in words for a patient (provider failures keep their status)."""
    if isinstance(exc, VideoProviderError):
        exc = VideoProviderError(
            "The video service is not reachable right now. Please try again in a minute; "
            "if it keeps failing, call the clinic.",
            code=exc.code,
        )
        exc.status = 503
    response = error_page(exc, tenant=tenant)
    response.headers.update(PRIVATE_HEADERS)
    return response


class VideoPages(Controller):
    path = "/c/{clinic:str}/video"
    include_in_schema = False
    exception_handlers = HTML_EXCEPTION_HANDLERS
    response_headers = [ResponseHeader(name=k, value=v) for k, v in PAGE_HEADERS.items()]

    @get("/{appointment_id:str}", name="video:room")
    async def room_page(
        self,
        clinic: FromPath[str],
        appointment_id: FromPath[str],
        token: FromQuery[str | None] = None,
    ) -> Template | Redirect:
        """The video room: the built-in call, or a hand-over to Daily with a meeting token."""
        tenant = await provide_public_tenant(clinic)
        try:
            who = await access.resolve(tenant, appointment_id, token)
        except CarebookError as exc:
            return _room_error(exc, tenant)
        record = who.record
        state = rooms.window_state(record) if record.live else "closed"
        context: dict[str, Any] = {
            "tenant": tenant,
            "page_title": f"Video consultation – {tenant.name}",
            "state": state,
            "role": who.role,
            "opening": opening_text(record.opens_at, who.zone),
            # The patient may answer the recording question here too ("at join").
            "video": None
            if who.owner
            else await manage_section(tenant, who.appointment_id, token or ""),
            "token": token or "",
        }
        if state == "open" and record.provider == "daily":
            provider = provider_named("daily")
            try:
                meeting_token = await provider.participant_token(
                    record.as_room(), Participant(who.user_name, owner=who.owner)
                )
            except CarebookError as exc:  # Daily down or misconfigured: say so, not a 500
                return _room_error(exc, tenant)
            return Redirect(f"{record.room_url}?t={quote(meeting_token, safe='')}")
        if state == "open":
            recording = await consent.recording_enabled(tenant, who.appointment_id)
            context["config"] = {
                "ws": f"/c/{tenant.slug}/video/{who.appointment_id}/ws?token="
                + quote(token or "", safe=""),
                "role": who.role,
                "name": who.user_name,
                "iceServers": list(get_video_settings().ice_servers),
                "recording": recording and who.owner,
                "closesAt": record.closes_at.isoformat(),
                "uploadUrl": f"/c/{tenant.slug}/video/{who.appointment_id}/recordings?token="
                + quote(token or "", safe=""),
            }
        return Template("video/room.html", context=context, headers=ROOM_HEADERS)

    @post("/{appointment_id:str}/consent", name="video:consent", status_code=303)
    async def consent_form(
        self,
        clinic: FromPath[str],
        appointment_id: FromPath[str],
        request: Request[Any, Any, Any],
        data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect | Template:
        """The consent form of the manage page and the room page (no script needed)."""
        tenant = await provide_public_tenant(clinic)
        await limit(request, tenant.slug, "booking")
        token = data.get("token", "")
        source = data.get("source", "manage")
        try:
            await consent.record_decision(
                tenant, appointment_id, token, data.get("decision", ""), source
            )
        except CarebookError as exc:
            return error_page(exc, tenant=tenant)
        back = "video" if source == "join" else "manage"
        return Redirect(
            f"/c/{tenant.slug}/{back}/{appointment_id}?token={quote(token, safe='')}",
            status_code=303,
        )

    @post(
        "/{appointment_id:str}/recordings",
        name="video:recording",
        status_code=201,
        request_max_body_size=recordings.MAX_RECORDING_BYTES,
    )
    async def upload_recording(
        self,
        clinic: FromPath[str],
        appointment_id: FromPath[str],
        request: Request[Any, Any, Any],
        token: FromQuery[str | None] = None,
    ) -> Response[dict[str, Any]]:
        """The specialist's browser uploads what it recorded (consent and permission only)."""
        tenant = await provide_public_tenant(clinic)
        try:
            body = await recordings.store(
                tenant, appointment_id, token, request.headers.get("content-type", ""),
                request.stream(),
            )  # fmt: skip
        except CarebookError as exc:
            return problem(exc.status, exc.code, exc.title, exc.detail)
        return Response(body, status_code=201)

    @websocket("/{appointment_id:str}/ws")
    async def signalling_socket(
        self, socket: WebSocket[Any, Any, Any], clinic: FromPath[str], appointment_id: FromPath[str]
    ) -> None:
        """Signalling for the built-in call; the same token and window as the page."""
        token = socket.query_params.get("token")
        try:
            tenant = await provide_public_tenant(clinic)
            who = await access.resolve(tenant, appointment_id, token)
        except CarebookError:
            await socket.close(code=4404, reason="not valid")
            return
        if not who.record.live or rooms.window_state(who.record) != "open":
            await socket.close(code=4403, reason="room closed")
            return
        await socket.accept()
        peer = signalling.new_peer_id()
        try:
            async with signalling.RoomLink(
                tenant.schema, who.record.room_name, peer, who.role, who.user_name
            ) as link:
                await socket.send_text(json.dumps({"type": "welcome", "peer": peer}))
                # The room closes at end + grace (eject_at_room_exp, as Daily does).
                remaining = (who.record.closes_at - datetime.now(UTC)).total_seconds()
                try:
                    await asyncio.wait_for(
                        signalling.relay(link, socket.receive_text, socket.send_text),
                        timeout=max(0.0, remaining),
                    )
                except TimeoutError:
                    await socket.close(code=4403, reason="room closed")
                except signalling.TooChatty:
                    await socket.close(code=4429, reason="too many messages")
        except WebSocketDisconnect:
            pass
        finally:
            if socket.connection_state != "disconnect":
                try:
                    await socket.close()
                except Exception:  # the peer went away first
                    log.debug("websocket already closed")


class JoinOut(msgspec.Struct):
    url: str
    provider: str
    opens_at: str
    closes_at: str


class StaffVideoController(Controller):
    path = "/api/v1/clinics/{clinic:str}/appointments/{appointment_id:uuid}/video"
    tags = ["staff"]
    dependencies = STAFF

    @post(
        "/join",
        status_code=200,
        summary="A join URL for the specialist (room owner)",
        description="The appointment's specialist (or a clinic admin) gets a URL admitting them "
        "as the room's owner until the room closes. Before the window opens the page says "
        "when it does. Another specialist's appointment is 404 `appointment_not_found`, as a "
        "missing one; receptionists join no room (403 `role_forbidden`).",
        responses=problems(
            s401="unauthorized, invalid_token",
            s403="role_forbidden, csrf_failed",
            s404="appointment_not_found (also another specialist's, for a specialist), "
            "video_room_not_found",
            s409="not_a_video_appointment",
        ),
    )
    async def join(
        self,
        staff_tenant: NamedDependency[Tenant],
        staff: NamedDependency[StaffPrincipal],
        appointment_id: FromPath[UUID],
    ) -> JoinOut:
        record, name = await access.staff_room(staff_tenant, staff, appointment_id)
        provider = provider_named(record.provider)
        token = await provider.participant_token(record.as_room(), Participant(name, owner=True))
        if record.provider == "daily":
            url = f"{record.room_url}?t={quote(token, safe='')}"
        else:
            url = room_path(staff_tenant, appointment_id, token)
        return JoinOut(url, record.provider, record.opens_at.isoformat(),
                       record.closes_at.isoformat())  # fmt: skip


class ConsentIn(msgspec.Struct):
    decision: str  # "given" | "revoked"
    source: str = "manage"  # "manage" | "join"


class PublicVideoController(Controller):
    path = "/api/v1/clinics/{clinic:str}/public/appointments/{appointment_id:str}/video"
    tags = ["public booking"]
    dependencies = PUBLIC

    @get(
        "/consent",
        summary="The recording-consent question and the patient's current answer",
        responses=problems(s404="appointment_not_found", s429=RATE_LIMITED),
    )
    async def consent_state(
        self,
        request: Request[Any, Any, Any],
        tenant: NamedDependency[Tenant],
        appointment_id: FromPath[str],
        token: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        await limit(request, tenant.slug, "read")
        manage_token = request.headers.get(MANAGE_TOKEN_HEADER) or token
        return await consent.state(tenant, appointment_id, manage_token)

    @post(
        "/consent",
        status_code=200,
        summary="Give or withdraw consent to record the video consultation",
        description="Only where the clinic allows recording. The wording shown and the time are "
        "recorded; consent can be withdrawn until the consultation starts. Manage token in "
        "`X-Manage-Token` (or `?token=`).",
        responses=problems(
            s404="appointment_not_found",
            s409="recording_not_allowed, consent_closed",
            s422="validation_failed",
            s429=RATE_LIMITED,
        ),
    )
    async def give_consent(
        self,
        request: Request[Any, Any, Any],
        tenant: NamedDependency[Tenant],
        appointment_id: FromPath[str],
        data: JSONBody[ConsentIn],
        token: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        await limit(request, tenant.slug, "booking")
        manage_token = request.headers.get(MANAGE_TOKEN_HEADER) or token
        return await consent.record_decision(
            tenant, appointment_id, manage_token, data.decision, data.source
        )


route_handlers: list[Any] = [VideoPages, StaffVideoController, PublicVideoController]
