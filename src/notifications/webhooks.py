"""Webhooks to the clinic's own systems: a channel like e-mail and SMS, per endpoint.

- Endpoints subscribe to event types (``appointment.booked``, ``.cancelled``,
  ``.rescheduled``, ``.completed``…, or ``*``). The lifecycle's ``notifications.webhooks``
  job delivers one event to every active endpoint subscribed to it.
- Each delivery is signed: header ``Carebook-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
  "<t>.<body>" under the endpoint's secret>``; ``Carebook-Event-Id`` (stable across retries:
  the receiver's own idempotency key) and ``Carebook-Event``.
- ``webhook_deliveries`` has one row per (endpoint, event): locked while sending, ``sent``
  after a 2xx, so a retried or duplicated job never delivers an event twice to a receiver that
  answered 2xx. 5xx, 408, 429, timeouts and connection errors are retried with the job's
  backoff; after ``max_attempts`` the row is ``failed`` (the log shows it). Other 4xx: failed
  at once (the receiver refuses it; retrying cannot help).
- Payloads carry ids, status and times, no patient data: the clinic's system reads the
  appointment through the staff API if it needs more.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from typing import Any
from uuid import UUID

import httpx

from carebook.tenancy import Tenant, tenant_tx
from notifications import config, webhook_urls
from notifications.delivery import RetryLater

log = logging.getLogger(__name__)

ACTOR = "notifications.webhooks"
# Lifecycle event → public event type.
EVENT_TYPES = {
    "booked": "appointment.booked",
    "upcoming": "appointment.upcoming",
    "confirmed": "appointment.confirmed",
    "in_progress": "appointment.started",
    "done": "appointment.completed",
    "cancelled": "appointment.cancelled",
    "no_show": "appointment.no_show",
    "rescheduled": "appointment.rescheduled",
    "test": "webhook.test",
}
SUBSCRIBABLE = frozenset(EVENT_TYPES.values()) | {"*"}


def timeout_seconds() -> float:
    """How long a receiver may take to answer (``CAREBOOK_WEBHOOK_TIMEOUT``, 10 s)."""
    return float(os.environ.get("CAREBOOK_WEBHOOK_TIMEOUT") or 10)


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """What a receiver does (and the tests do): check the signature and its freshness."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)


async def event_payload(
    tenant: Tenant, event_id: UUID, event: str, appointment_id: UUID | None
) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if appointment_id is not None:
        async with tenant_tx(tenant) as conn:
            row = await conn.fetchrow(
                """SELECT id, status, version, starts_at, ends_at, calendar_id, specialist_id
                   FROM appointments WHERE id = $1""",
                appointment_id,
            )
        if row is not None:
            data = {
                "appointment_id": str(row["id"]),
                "status": row["status"],
                "version": row["version"],
                "start": row["starts_at"].isoformat(),
                "end": row["ends_at"].isoformat(),
                "calendar_id": str(row["calendar_id"]),
                "specialist_id": str(row["specialist_id"]),
            }
    return {
        "id": str(event_id),
        "type": EVENT_TYPES.get(event, f"appointment.{event}"),
        "clinic": tenant.slug,
        "created_at": int(time.time()),
        "data": data,
    }


async def on_event(
    tenant: Tenant,
    event_id: UUID,
    event: str,
    appointment_id: UUID | None,
    endpoint_id: UUID | None = None,
) -> dict[str, str]:
    """Deliver one event to every subscribed endpoint (or to ``endpoint_id`` only, for the
    test event). Returns each endpoint's status; raises ``RetryLater`` if any is retryable."""
    event_type = EVENT_TYPES.get(event, f"appointment.{event}")
    async with tenant_tx(tenant) as conn:
        endpoints = await conn.fetch(
            """SELECT id, url, secret FROM webhook_endpoints
               WHERE active AND ($1::uuid IS NULL OR id = $1)
                 AND ($1::uuid IS NOT NULL OR $2 = ANY (events) OR '*' = ANY (events))""",
            endpoint_id,
            event_type,
        )
    if not endpoints:
        return {}
    payload = await event_payload(tenant, event_id, event, appointment_id)
    results: dict[str, str] = {}
    retry: str | None = None
    for ep in endpoints:
        status, error = await _deliver(tenant, ep, event_id, event_type, payload)
        results[str(ep["id"])] = status
        if status == "queued":
            retry = error
    if retry is not None:
        raise RetryLater(f"webhook delivery: {retry}")
    return results


async def _deliver(
    tenant: Tenant, ep: Any, event_id: UUID, event_type: str, payload: dict[str, Any]
) -> tuple[str, str | None]:
    async with tenant_tx(tenant) as conn:
        await conn.execute(
            """INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, payload)
               VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (endpoint_id, event_id) DO NOTHING""",
            ep["id"], event_id, event_type, json.dumps(payload),
        )  # fmt: skip
        row = await conn.fetchrow(
            """SELECT id, status, attempts, payload::text AS body FROM webhook_deliveries
               WHERE endpoint_id = $1 AND event_id = $2 FOR UPDATE""",
            ep["id"],
            event_id,
        )
        if row["status"] != "queued":
            return str(row["status"]), None
        body = row["body"].encode()  # the same bytes on every attempt
        attempts = row["attempts"] + 1
        code: int | None = None
        error: str | None = None
        retryable = False
        try:
            # Resolved and checked once per attempt; the request goes to that address.
            target = await webhook_urls.resolve_target(ep["url"])
            async with httpx.AsyncClient(timeout=timeout_seconds()) as http:
                r = await http.post(
                    target.url,
                    content=body,
                    headers={
                        "Host": target.host_header,
                        "Content-Type": "application/json",
                        "User-Agent": "Carebook-Webhooks/1",
                        "Carebook-Event": event_type,
                        "Carebook-Event-Id": str(event_id),
                        "Carebook-Signature": signature(ep["secret"], int(time.time()), body),
                    },
                    extensions={"sni_hostname": target.sni_hostname} if target.sni_hostname else {},
                )
            code = r.status_code
            if 200 <= code < 300:
                status = "sent"
            else:
                error = f"HTTP {code}"
                retryable = code >= 500 or code in (408, 429)
                status = "failed"
        except webhook_urls.AddressNotAllowed as exc:
            # Not retried: the URL (or its DNS answer now) points into a network we never call.
            error = f"address not allowed: {exc}"
            status = "failed"
            log.warning("webhook %s of %s refused: %s", ep["id"], tenant.slug, exc)
        except OSError as exc:  # the name did not resolve (now)
            error = f"DNS: {type(exc).__name__}"
            retryable = True
            status = "failed"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}"
            retryable = True
            status = "failed"
        if retryable and attempts < config.max_attempts():
            status = "queued"
        await conn.execute(
            """UPDATE webhook_deliveries
               SET status = $2::text, attempts = $3, response_status = $4, error = $5,
                   updated_at = now(),
                   delivered_at = CASE WHEN $2::text = 'sent' THEN now() END
               WHERE id = $1""",
            row["id"], status, attempts, code, error,
        )  # fmt: skip
    return status, error
