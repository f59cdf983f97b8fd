"""Channels: one interface, ``send(message)``, for e-mail over SMTP, SMS and the local outbox.

A channel returns the provider's id for the message, or raises ``TemporaryFailure`` (worth
retrying: the server is down, timed out, said 4xx or 429) or ``PermanentFailure`` (retrying
cannot help: the address was refused). ``delivery.deliver`` turns those into the log's
``queued``/``failed``/``bounced`` and decides on retries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from typing import Protocol
from uuid import UUID

import aiosmtplib
import asyncpg

from notifications import smtp_pool
from notifications.config import SmtpConfig
from notifications.render import InlineImage


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # e.g. "text/calendar; method=PUBLISH"
    content: bytes


@dataclass(frozen=True)
class Message:
    """One message to one recipient, already rendered in the recipient's language."""

    channel: str  # "email" | "sms"
    to: str
    subject: str
    text: str
    html: str | None = None
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)
    sender_name: str | None = None
    reply_to: str | None = None
    # Images the HTML shows by ``cid:`` (the clinic's logo): multipart/related with the HTML.
    inline_images: tuple[InlineImage, ...] = ()


class DeliveryError(Exception):
    """A channel could not deliver the message."""


class TemporaryFailure(DeliveryError):
    """Worth retrying later (server down, timeout, 4xx reply, 429)."""


class PermanentFailure(DeliveryError):
    """Retrying cannot help; ``bounced`` when the recipient was refused."""

    def __init__(self, message: str, *, bounced: bool = False) -> None:
        super().__init__(message)
        self.bounced = bounced


@dataclass(frozen=True)
class SendContext:
    """Where a delivery happens: its transaction and log row (the outbox writes into them;
    remote channels ignore both)."""

    conn: asyncpg.Connection
    log_id: UUID


class Channel(Protocol):
    transport: str

    async def send(self, message: Message, ctx: SendContext) -> str:
        """Deliver ``message``; returns the provider's message id."""
        ...


def email_message(message: Message, sender: str) -> EmailMessage:
    """An RFC 5322 message: plain text with an HTML alternative (multipart/related with its
    inline images, so the logo shows offline and without remote images), then the
    attachments."""
    mail = EmailMessage()
    mail["From"] = formataddr((message.sender_name or "", sender))
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "carebook")
    if message.reply_to:
        mail["Reply-To"] = message.reply_to
    mail.set_content(message.text)
    if message.html is not None:
        mail.add_alternative(message.html, subtype="html")
        html_part = mail.get_body(("html",))
        for image in message.inline_images if html_part is not None else ():
            main_type, _, sub_type = image.content_type.partition("/")
            html_part.add_related(  # type: ignore[union-attr]
                image.content, maintype=main_type, subtype=sub_type, cid=f"<{image.cid}>",
                disposition="inline", filename=image.filename,
            )  # fmt: skip
    for att in message.attachments:
        main_type, _, rest = att.content_type.partition("/")
        sub_type, _, params_text = rest.partition(";")
        params = dict(
            p.strip().split("=", 1) for p in params_text.split(";") if "=" in p
        )  # e.g. method=PUBLISH for text/calendar
        mail.add_attachment(
            att.content,
            maintype=main_type,
            subtype=sub_type.strip(),
            filename=att.filename,
            params=params,
        )
    return mail


class SmtpChannel:
    """E-mail through an SMTP server: implicit TLS or STARTTLS, optional AUTH, timeouts; over
    kept-alive connections (``smtp_pool``)."""

    transport = "smtp"

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    async def send(self, message: Message, ctx: SendContext) -> str:
        cfg = self.config
        mail = email_message(message, cfg.sender)
        try:
            await smtp_pool.pool_for(cfg).send(mail)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            if all(500 <= c < 600 for c in codes):
                raise PermanentFailure(f"recipient refused ({codes})", bounced=True) from None
            raise TemporaryFailure(f"recipient deferred ({codes})") from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            # Our credentials, not the message: keep it queued until the operator fixes them.
            raise TemporaryFailure(f"SMTP authentication failed ({exc.code})") from None
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise PermanentFailure(f"SMTP {exc.code}: {exc.message[:200]}") from None
            raise TemporaryFailure(f"SMTP {exc.code}: {exc.message[:200]}") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TemporaryFailure(f"SMTP unavailable: {type(exc).__name__}: {exc}") from None
        return str(mail["Message-ID"])


class OutboxChannel:
    """The local outbox: the message is stored in the clinic schema for staff to read."""

    transport = "outbox"

    def __init__(self, channel: str) -> None:
        self.channel = channel

    async def send(self, message: Message, ctx: SendContext) -> str:
        attachments = [
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "content": a.content.decode("utf-8", "replace"),
            }
            for a in message.attachments
        ]
        outbox_id = await ctx.conn.fetchval(
            """INSERT INTO outbox_messages
                   (log_id, channel, recipient, subject, body_text, body_html, attachments)
               VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) RETURNING id""",
            ctx.log_id,
            self.channel,
            message.to,
            message.subject or None,
            message.text,
            message.html,
            json.dumps(attachments),
        )
        return f"outbox:{outbox_id}"
