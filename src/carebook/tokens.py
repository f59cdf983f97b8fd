"""Bearer secrets: random (256 bit), stored only as SHA-256 digests, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_token(prefix: str) -> str:
    """A fresh secret such as ``cbk_…``; the prefix tells people what leaked."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def token_digest(token: str) -> bytes:
    # A fast hash is right here: tokens carry 256 bits of entropy, unlike passwords.
    return hashlib.sha256(token.encode()).digest()


def digests_match(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def sign(secret_key: str, message: str) -> str:
    """An HMAC-SHA256 signature (hex) of ``message`` under the app's secret key."""
    return hmac.new(secret_key.encode(), message.encode(), hashlib.sha256).hexdigest()


def signature_valid(secret_key: str, message: str, signature: str) -> bool:
    return hmac.compare_digest(sign(secret_key, message), signature)
