"""SMTP with STARTTLS or implicit TLS and AUTH, against aiosmtpd with a throwaway CA."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from carebook.tenancy import tenant_tx
from notifications import service
from notifications.delivery import RetryLater
from tests.conftest import Clinic
from tests.notifications.conftest import Inbox, book_one, free_port

# aiosmtpd warns about AUTH without its TLS requirement (set off for SMTPS only, see below).
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (also the CA file the client trusts)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)

    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"clinic",
        b"s3cret",
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture(params=["starttls", "tls"])
def tls_smtp(
    request: pytest.FixtureRequest, cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Inbox]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*cert)
    inbox = Inbox()
    port = free_port()
    common: dict[str, Any] = {
        "hostname": "127.0.0.1",
        "port": port,
        "authenticator": _authenticator,
        "auth_required": True,
    }
    if request.param == "starttls":
        controller = Controller(inbox, tls_context=context, require_starttls=True, **common)
    else:
        # aiosmtpd does not see SMTPS as TLS for its "AUTH only over TLS" rule; it is TLS.
        controller = Controller(inbox, ssl_context=context, auth_require_tls=False, **common)
    controller.start()
    monkeypatch.setenv("CAREBOOK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CAREBOOK_SMTP_PORT", str(port))
    monkeypatch.setenv("CAREBOOK_SMTP_SECURITY", request.param)
    monkeypatch.setenv("CAREBOOK_SMTP_USERNAME", "clinic")
    monkeypatch.setenv("CAREBOOK_SMTP_PASSWORD", "s3cret")
    monkeypatch.setenv("CAREBOOK_SMTP_CA_FILE", str(cert[0]))
    monkeypatch.setenv("CAREBOOK_SMTP_FROM", "bookings@carebook.test")
    try:
        yield inbox
    finally:
        controller.stop()


async def test_tls_and_auth_deliver(
    client: httpx.AsyncClient, clinic: Clinic, tls_smtp: Inbox
) -> None:
    booked = await book_one(client, clinic.tenant)
    await service.on_booked(clinic.tenant, booked.appointment_id, None)
    assert len(tls_smtp.to(booked.patient_email)) == 1
    assert len(tls_smtp.to(booked.specialist_email)) == 1


async def test_wrong_password_keeps_the_message_queued(
    client: httpx.AsyncClient, clinic: Clinic, tls_smtp: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    booked = await book_one(client, clinic.tenant)
    monkeypatch.setenv("CAREBOOK_SMTP_PASSWORD", "wrong")
    with pytest.raises(RetryLater):
        await service.on_booked(clinic.tenant, booked.appointment_id, None)
    async with tenant_tx(clinic.tenant) as conn:
        rows = await conn.fetch("SELECT status, error FROM notification_log")
    assert {r["status"] for r in rows} == {"queued"}
    assert all("authentication failed" in r["error"] for r in rows)
    assert tls_smtp.messages == []
