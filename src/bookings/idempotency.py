"""Idempotency keys for bookings: same key + same body → the same response.

``book_hold()`` (SQL) claims a key with ``INSERT … ON CONFLICT DO NOTHING`` inside the
booking's transaction, so a concurrent duplicate waits for the first attempt and then replays
its committed row. A failed attempt rolls its claim back, so a retry after a 4xx runs again.

What is stored under a key is the booking's snapshot (no secret) and the manage token sealed
with AES-GCM under a key derived (HKDF-SHA256) from the app secret, the Idempotency-Key and
the request hash: only a retry that presents the same key and the same body (which includes
the hold token) can restore the original response's manage link.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from carebook.errors import BadRequest, Conflict, ValidationFailed
from carebook.settings import get_settings

HEADER = "Idempotency-Key"
_KEY_CHARS = frozenset(chr(c) for c in range(0x21, 0x7F))
_NONCE_BYTES = 12


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


def _aead(key: str, digest: bytes) -> AESGCM:
    derived = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"carebook-idempotency-seal",
        info=key.encode() + b"\x00" + digest,
    ).derive(get_settings().secret_key.encode())
    return AESGCM(derived)


def seal(key: str, digest: bytes, token: str) -> bytes:
    """``token`` encrypted for the retries that present the same key and body."""
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + _aead(key, digest).encrypt(nonce, token.encode(), None)


def replayed_token(key: str, digest: bytes, stored_hash: bytes, sealed: bytes | None) -> str:
    """The manage token of the attempt that claimed ``key``, for its replay.

    Raises 422 ``idempotency_key_reused`` when the key was used with another body.
    """
    if not hmac.compare_digest(stored_hash, digest):
        raise ValidationFailed(
            f"This {HEADER} was already used with a different request body.",
            code="idempotency_key_reused",
        )
    try:
        if sealed is None:  # pragma: no cover - a claim commits together with its snapshot
            raise InvalidTag
        nonce, box = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        return _aead(key, digest).decrypt(nonce, box, None).decode()
    except InvalidTag:
        # Only when the app secret changed since the booking was made.
        raise Conflict(
            "This booking was made, but its response cannot be replayed any more; use the "
            "manage link from the first response.",
            code="idempotency_replay_unavailable",
        ) from None
