"""The clinic's logo and accent colour in every HTML message: the logo as an inline image
(multipart/related, ``cid:``) so it shows offline and without remote-image loading."""

from __future__ import annotations

import re
import struct
import zlib
from email.message import EmailMessage

import httpx

from carebook.tenancy import Tenant
from notifications import magic, service
from tenants import clinic_settings
from tests.conftest import Clinic
from tests.notifications.conftest import Inbox, book_one, cancel, move, set_clinic_settings
from tests.notifications.test_magic_link import ask, last_link_id


def tiny_png() -> bytes:
    """A real 1×1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\x18\x49\xa9")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def logo_parts(mail: EmailMessage) -> list[EmailMessage]:
    return [p for p in mail.walk() if p.get_content_maintype() == "image"]  # type: ignore[misc]


def assert_branded(mail: EmailMessage, logo: bytes, accent: str) -> None:
    [image] = logo_parts(mail)
    assert image.get_payload(decode=True) == logo
    assert image.get_content_type() == "image/png"
    assert image.get_content_disposition() == "inline"
    cid = image["Content-ID"].strip("<>")
    related = next(p for p in mail.walk() if p.get_content_type() == "multipart/related")
    html_part = related.get_body(("html",))  # type: ignore[attr-defined]
    html = html_part.get_content()
    assert f'src="cid:{cid}"' in html
    assert accent in html
    assert not re.search(r'src="https?://', html)  # nothing fetched from a server


async def branded(clinic: Clinic, accent: str) -> tuple[Tenant, bytes]:
    logo = tiny_png()
    tenant = await set_clinic_settings(clinic.slug, accent_colour=accent)
    await clinic_settings.save_logo(tenant, logo, "image/png")
    return tenant, logo


async def test_every_message_carries_the_logo_inline(
    client: httpx.AsyncClient, clinic: Clinic, smtp: Inbox
) -> None:
    tenant, logo = await branded(clinic, "#0b5d3b")
    booked = await book_one(client, tenant, email_addr="lea@example.test")
    await service.on_booked(tenant, booked.appointment_id, None)
    await service.on_reminder(tenant, booked.appointment_id, None, 24)
    await move(client, clinic, booked.appointment_id, hours=1)
    await service.on_rescheduled(tenant, booked.appointment_id, None)
    await cancel(client, clinic, booked.appointment_id)
    await service.on_cancelled(tenant, booked.appointment_id, None, "Patient called")
    async with httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url)) as b:
        await ask(b, clinic, "lea@example.test")
    assert await magic.send_link(tenant, await last_link_id(clinic), None) == "sent"

    to_patient = smtp.to("lea@example.test")
    to_specialist = smtp.to(booked.specialist_email)
    subjects = [m["Subject"] for m in to_patient]
    assert len(to_patient) == 5 and len(to_specialist) == 4, subjects
    for mail in to_patient + to_specialist:
        assert_branded(mail, logo, "#0b5d3b")
    # The .ics stays an attachment next to the HTML with its image.
    confirmation = to_patient[0]
    assert [p.get_filename() for p in confirmation.iter_attachments()] == ["appointment.ics"]
    assert confirmation.get_body(("plain",)) is not None


async def test_without_a_logo_no_image_part(
    client: httpx.AsyncClient, clinic: Clinic, smtp: Inbox
) -> None:
    booked = await book_one(client, clinic.tenant)
    await service.on_booked(clinic.tenant, booked.appointment_id, None)
    [mail] = smtp.to(booked.patient_email)
    assert logo_parts(mail) == []
    assert not any(p.get_content_type() == "multipart/related" for p in mail.walk())
    html = mail.get_body(("html",)).get_content()
    assert "cid:" not in html and "#1f5fbf" in html  # the default accent
