"""Where messages go: SMTP and SMS providers from the environment, else the local outbox.

``CAREBOOK_SMTP_HOST`` (unset: e-mail goes to the clinic's local outbox), ``_PORT`` (587),
``_SECURITY`` (``starttls`` | ``tls`` | ``none``; default ``starttls``), ``_USERNAME``,
``_PASSWORD``, ``_FROM`` (sender address), ``_TIMEOUT`` (seconds, 15), ``_CA_FILE`` (a CA
bundle for a private server). ``CAREBOOK_TWILIO_ACCOUNT_SID``/``_AUTH_TOKEN``/``_FROM``
(``_BASE_URL`` for tests): SMS through Twilio, else the outbox.
``CAREBOOK_NOTIFY_MAX_ATTEMPTS`` (5): a message still failing after that many attempts is
``failed`` and no longer retried.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

SECURITY_MODES = ("starttls", "tls", "none")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 587
    security: str = "starttls"
    username: str | None = None
    password: str | None = None
    sender: str = "no-reply@carebook.invalid"
    timeout_seconds: float = 15.0
    ca_file: str | None = None


@dataclass(frozen=True)
class TwilioConfig:
    account_sid: str
    auth_token: str
    sender: str
    base_url: str = "https://api.twilio.com"
    timeout_seconds: float = 10.0


def smtp_config() -> SmtpConfig | None:
    host = os.environ.get("CAREBOOK_SMTP_HOST")
    if not host:
        return None
    security = os.environ.get("CAREBOOK_SMTP_SECURITY", "starttls").lower()
    if security not in SECURITY_MODES:
        raise RuntimeError(f"CAREBOOK_SMTP_SECURITY must be one of {SECURITY_MODES}")
    default_port = {"starttls": 587, "tls": 465, "none": 25}[security]
    return SmtpConfig(
        host=host,
        port=int(os.environ.get("CAREBOOK_SMTP_PORT") or default_port),
        security=security,
        username=os.environ.get("CAREBOOK_SMTP_USERNAME") or None,
        password=os.environ.get("CAREBOOK_SMTP_PASSWORD") or None,
        sender=os.environ.get("CAREBOOK_SMTP_FROM") or "no-reply@carebook.invalid",
        timeout_seconds=float(os.environ.get("CAREBOOK_SMTP_TIMEOUT") or 15),
        ca_file=os.environ.get("CAREBOOK_SMTP_CA_FILE") or None,
    )


def twilio_config() -> TwilioConfig | None:
    sid = os.environ.get("CAREBOOK_TWILIO_ACCOUNT_SID")
    token = os.environ.get("CAREBOOK_TWILIO_AUTH_TOKEN")
    if not sid or not token:
        return None
    return TwilioConfig(
        account_sid=sid,
        auth_token=token,
        sender=os.environ.get("CAREBOOK_TWILIO_FROM", ""),
        base_url=os.environ.get("CAREBOOK_TWILIO_BASE_URL", "https://api.twilio.com").rstrip("/"),
    )


def max_attempts() -> int:
    return int(os.environ.get("CAREBOOK_NOTIFY_MAX_ATTEMPTS") or 5)
