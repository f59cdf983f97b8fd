"""Manage links that can be sent later: derived from the appointment's manage token digest.

Only the digest of a manage token is stored, so a job that e-mails the patient cannot
reproduce the token shown at booking. It sends a *link token* instead:
``cbl_`` + HMAC-SHA256(secret key, clinic schema, appointment id, manage token digest). It
opens the same manage page, is worthless without the server's secret key, names one
appointment of one clinic, and stops working when the manage token is replaced.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from uuid import UUID

from carebook.settings import get_settings
from carebook.tenancy import Tenant
from carebook.tokens import digests_match, token_digest

LINK_TOKEN_PREFIX = "cbl_"  # noqa: S105 - a label, not a secret


def link_token(tenant: Tenant, appointment_id: UUID, manage_token_hash: bytes) -> str:
    mac = hmac.new(
        get_settings().secret_key.encode(),
        b"manage-link\x00" + tenant.schema.encode() + b"\x00" + appointment_id.bytes
        + bytes(manage_token_hash),
        hashlib.sha256,
    ).digest()  # fmt: skip
    return LINK_TOKEN_PREFIX + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def token_valid(tenant: Tenant, appointment_id: UUID, manage_token_hash: bytes, token: str) -> bool:
    """The manage token itself, or a link token derived from its digest."""
    if token.startswith(LINK_TOKEN_PREFIX):
        return digests_match(
            link_token(tenant, appointment_id, manage_token_hash).encode(), token.encode()
        )
    return digests_match(bytes(manage_token_hash), token_digest(token))
