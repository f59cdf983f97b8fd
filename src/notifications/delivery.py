"""Deliver a message at most once per (appointment, event, recipient, channel), and log it.

The log row is the "done" record. ``deliver()`` inserts it (or finds it), locks it, and sends
only while it is ``queued``: a duplicated or retried job finds ``sent`` and does nothing, and
a duplicate running at the same moment waits on the row lock, then finds ``sent``. The lock
is held while the channel talks to the server (bounded by the channel's timeout). The one
window left is a crash after the server accepted the message and before the commit: the next
attempt sends again (at least once, never zero times), as for any remote effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg

from carebook.tenancy import Tenant, tenant_tx
from notifications import config
from notifications.channels import (
    Channel,
    Message,
    OutboxChannel,
    PermanentFailure,
    SendContext,
    SmtpChannel,
    TemporaryFailure,
)


class RetryLater(Exception):
    """Some message of a job failed temporarily: the job should be retried (Dramatiq backoff).
    Messages already sent are skipped on the retry."""


@dataclass(frozen=True)
class Envelope:
    """What the log records about a message besides its content."""

    dedup_key: str
    appointment_id: UUID | None
    event: str
    recipient_kind: str
    template: str
    language: str
    job_id: UUID | None = None


def channel_for(kind: str) -> Channel:
    """The configured transport for ``kind`` ("email" | "sms"), else the local outbox."""
    if kind == "email":
        smtp = config.smtp_config()
        return SmtpChannel(smtp) if smtp else OutboxChannel("email")
    if kind == "sms":
        from notifications.sms import TwilioChannel

        twilio = config.twilio_config()
        return TwilioChannel(twilio) if twilio else OutboxChannel("sms")
    raise ValueError(f"unknown channel {kind!r}")


def dedup_key(appointment_id: object, event: str, recipient: str, channel: str) -> str:
    return f"{appointment_id}:{event}:{recipient.lower()}:{channel}"


async def _claim(
    conn: asyncpg.Connection, env: Envelope, msg: Message, transport: str
) -> asyncpg.Record:
    await conn.execute(
        """INSERT INTO notification_log (dedup_key, appointment_id, event, recipient,
               recipient_kind, channel, transport, template, language, job_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (dedup_key) DO NOTHING""",
        env.dedup_key, env.appointment_id, env.event, msg.to, env.recipient_kind,
        msg.channel, transport, env.template, env.language, env.job_id,
    )  # fmt: skip
    row: asyncpg.Record = await conn.fetchrow(
        "SELECT id, status, attempts FROM notification_log WHERE dedup_key = $1 FOR UPDATE",
        env.dedup_key,
    )
    return row


async def deliver(
    tenant: Tenant, env: Envelope, msg: Message, channel: Channel | None = None
) -> str:
    """Send ``msg`` unless its log row says it was sent or given up; returns the log status.

    Raises ``RetryLater`` after a temporary failure while attempts remain (the row stays
    ``queued`` with the error and attempt count); at ``max_attempts`` the row is ``failed``.
    """
    channel = channel or channel_for(msg.channel)
    retry = False
    async with tenant_tx(tenant) as conn:
        row = await _claim(conn, env, msg, channel.transport)
        if row["status"] != "queued":
            return str(row["status"])
        attempts = row["attempts"] + 1
        status, provider_id, error = "queued", None, None
        try:
            provider_id = await channel.send(msg, SendContext(conn, row["id"]))
            status = "sent"
        except TemporaryFailure as exc:
            error = str(exc)
            if attempts >= config.max_attempts():
                status = "failed"
            else:
                retry = True
        except PermanentFailure as exc:
            error = str(exc)
            status = "bounced" if exc.bounced else "failed"
        await conn.execute(
            """UPDATE notification_log
               SET status = $2::text, attempts = $3, provider_id = coalesce($4, provider_id),
                   error = $5, transport = $6, updated_at = now(),
                   sent_at = CASE WHEN $2::text = 'sent' THEN now() END
               WHERE id = $1""",
            row["id"], status, attempts, provider_id, error, channel.transport,
        )  # fmt: skip
    if retry:
        # No server text here: it may quote the address, and this message reaches the logs.
        raise RetryLater(
            f"{env.template} to a {env.recipient_kind} via {channel.transport}: temporary "
            f"failure, attempt {attempts} (details in notification_log)"
        )
    return status
