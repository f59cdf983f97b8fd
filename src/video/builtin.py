"""The built-in provider: rooms are rows in our database, media flows peer-to-peer (WebRTC)
between the two browsers, signalling goes through the app (``video.signalling``).

Creating or deleting a room touches nothing outside Carebook. A participant token is a
signed, expiring statement "``user_name`` may enter room ``r`` (as owner or guest) between
``nbf`` and ``exp``": HMAC-SHA256 under the app's secret key, so it needs no storage and any
app process can check it. Patients do not need one: their manage-link token admits them.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from carebook.settings import get_settings
from carebook.tokens import sign, signature_valid
from video.providers import Participant, Room, RoomSpec

TOKEN_PREFIX = "cbv1"  # noqa: S105 - a format marker, not a secret


@dataclass(frozen=True)
class TokenClaims:
    room: str
    owner: bool
    user_name: str
    nbf: int
    exp: int


class BuiltinProvider:
    name = "builtin"

    async def create_room(self, spec: RoomSpec) -> Room:
        return Room(spec.name, None, spec.opens_at, spec.closes_at, spec.recording)

    async def update_room(self, spec: RoomSpec) -> Room:
        return Room(spec.name, None, spec.opens_at, spec.closes_at, spec.recording)

    async def participant_token(self, room: Room, who: Participant) -> str:
        return issue_token(
            TokenClaims(
                room=room.name,
                owner=who.owner,
                user_name=who.user_name,
                nbf=int(room.opens_at.timestamp()),
                exp=int(room.closes_at.timestamp()),
            )
        )

    async def delete_room(self, name: str) -> bool:
        return True  # nothing outside our database; the row's status closes the room


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def issue_token(claims: TokenClaims) -> str:
    payload = _b64(
        json.dumps(
            {"r": claims.room, "o": claims.owner, "u": claims.user_name,
             "nbf": claims.nbf, "exp": claims.exp},
            separators=(",", ":"),
        ).encode()
    )  # fmt: skip
    body = f"{TOKEN_PREFIX}.{payload}"
    return f"{body}.{sign(get_settings().secret_key, 'video:' + body)}"


def is_participant_token(token: str) -> bool:
    return token.startswith(TOKEN_PREFIX + ".")


def read_token(token: str, room: str) -> TokenClaims | None:
    """The claims if the signature is ours and the token is for ``room``; else ``None``.
    The window (``nbf``/``exp``) is checked by the caller, who explains it to the user."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    body = f"{parts[0]}.{parts[1]}"
    if not signature_valid(get_settings().secret_key, "video:" + body, parts[2]):
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        claims = TokenClaims(
            room=str(raw["r"]), owner=bool(raw["o"]), user_name=str(raw["u"]),
            nbf=int(raw["nbf"]), exp=int(raw["exp"]),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError):
        return None
    return claims if claims.room == room else None


def token_expired(claims: TokenClaims, now: datetime | None = None) -> bool:
    return (now or datetime.now(UTC)).timestamp() >= claims.exp
