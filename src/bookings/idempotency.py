"""Idempotency keys for bookings: same key + same body → the same response.

A key is claimed with ``INSERT … ON CONFLICT DO NOTHING`` inside the booking's transaction,
so a concurrent duplicate waits for the first attempt and then replays its committed
response. A failed attempt rolls its claim back, so a retry after a 4xx runs again.

The stored response must not contain the manage token in clear (secrets are hashed at rest).
It is stored with a placeholder, and the token's 32 random bytes are sealed with a one-time
pad derived from the app secret, the key and the request hash: only a retry that presents the
same key and the same body (which includes the hold token) can restore the original response.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from carebook.errors import BadRequest, ValidationFailed
from carebook.settings import get_settings
from carebook.sqlfiles import sql

HEADER = "Idempotency-Key"
TOKEN_PLACEHOLDER = "{manage_token}"  # noqa: S105 - a placeholder
_KEY_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F))


def valid_key(raw: str | None) -> str:
    """The Idempotency-Key header value, or a clear 4xx."""
    if raw is None or not raw.strip():
        raise BadRequest(
            f"Send an {HEADER} header (a random value, e.g. a UUID) so a retried booking "
            "is not booked twice.",
            code="idempotency_key_required",
        )
    key = raw.strip()
    if len(key) > 255 or not set(key) <= _KEY_CHARS:
        raise ValidationFailed.field(
            HEADER,
            "1-255 printable ASCII characters without spaces.",
            code="invalid_idempotency_key",
        )
    return key


def request_hash(body: dict[str, Any]) -> bytes:
    """A digest of the decoded body: key order and whitespace do not matter."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).digest()


@dataclass(frozen=True)
class Replay:
    response: dict[str, Any]


async def claim(conn: asyncpg.Connection, key: str, digest: bytes) -> Replay | None:
    """Claim ``key`` for this transaction, or return the response of the attempt that did.

    Raises 422 ``idempotency_key_reused`` when the key was used with another body.
    """
    if await conn.fetchval(sql("bookings", "claim_idempotency_key.sql"), key, digest):
        return None
    row = await conn.fetchrow(
        "SELECT request_hash, response, sealed_secret FROM idempotency_keys WHERE key = $1", key
    )
    if row is None or row["response"] is None:  # pragma: no cover - claims commit with a response
        raise ValidationFailed(
            "This Idempotency-Key is in use; retry.", code="idempotency_key_busy"
        )
    if not hmac.compare_digest(row["request_hash"], digest):
        raise ValidationFailed(
            f"This {HEADER} was already used with a different request body.",
            code="idempotency_key_reused",
        )
    response: dict[str, Any] = json.loads(row["response"])
    secret = _unseal(key, digest, row["sealed_secret"])
    response["manage_url"] = response["manage_url"].replace(TOKEN_PLACEHOLDER, secret)
    return Replay(response)


def sealed_response(
    key: str, digest: bytes, response: dict[str, Any], manage_token: str
) -> tuple[str, bytes]:
    """What to store for a response: its JSON without the secret, and the sealed secret."""
    stored = dict(response)
    stored["manage_url"] = stored["manage_url"].replace(manage_token, TOKEN_PLACEHOLDER)
    return json.dumps(stored), _seal(key, digest, manage_token)


def _pad(key: str, digest: bytes, length: int) -> bytes:
    secret = get_settings().secret_key.encode()
    seed = b"carebook-idempotency-seal\x00" + key.encode() + b"\x00" + digest
    pad = b""
    counter = 0
    while len(pad) < length:
        pad += hmac.new(secret, seed + counter.to_bytes(4, "big"), hashlib.sha256).digest()
        counter += 1
    return pad[:length]


def _seal(key: str, digest: bytes, token: str) -> bytes:
    prefix, _, body = token.partition("_")
    raw = prefix.encode() + b"\x00" + base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    return bytes(a ^ b for a, b in zip(raw, _pad(key, digest, len(raw)), strict=True))


def _unseal(key: str, digest: bytes, sealed: bytes) -> str:
    raw = bytes(a ^ b for a, b in zip(sealed, _pad(key, digest, len(sealed)), strict=True))
    prefix, _, secret = raw.partition(b"\x00")
    return prefix.decode() + "_" + base64.urlsafe_b64encode(secret).rstrip(b"=").decode()
