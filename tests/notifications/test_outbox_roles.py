"""Links in the local outbox are credentials: clinic admins read messages whole, receptionists
and specialists read them without any link (manage, sign-in) or attachment content."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import httpx
import pytest

from carebook.tenancy import tenant_tx
from notifications import service
from notifications.outbox_view import LINK_REMOVED, without_links
from tests.bookings.lifecycle_support import staff_member
from tests.conftest import Clinic
from tests.notifications.conftest import book_one, fresh_client
from tests.notifications.jobs import run_jobs

SIGN_IN = re.compile(r"https?://\S+/sign-in/[^\s\"'<>]+")
MANAGE = re.compile(r"https?://\S+/manage/[^\s\"'<>]+")


@pytest.fixture(autouse=True)
def no_smtp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAREBOOK_SMTP_HOST", raising=False)


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def _outbox(client: httpx.AsyncClient, clinic: Clinic, headers: dict[str, str],
                  **params: str) -> httpx.Response:  # fmt: skip
    r = await client.get(f"{clinic.api}/outbox", headers=headers, params=params)
    assert r.status_code == 200, r.text
    return r


async def test_only_clinic_admins_get_the_links_in_patients_messages(
    client: httpx.AsyncClient, clinic: Clinic
) -> None:
    booked = await book_one(client, clinic.tenant, email_addr="lea@example.test")
    await service.on_booked(clinic.tenant, booked.appointment_id, None)  # manage link + .ics
    async with fresh_client(client) as browser:  # "e-mail me a sign-in link"
        r = await browser.post(f"/c/{clinic.slug}/sign-in", data={"email": "lea@example.test"})
        assert r.status_code == 200
    assert await run_jobs(clinic.tenant, "notifications.magic_link") == 1

    # The admin sees every message whole: the links the patient received.
    whole = (await _outbox(client, clinic, clinic.headers)).json()
    assert whole and not any(m["redacted"] for m in whole)
    text = " ".join(m["body_text"] for m in whole)
    [manage] = set(MANAGE.findall(text))
    [sign_in] = set(SIGN_IN.findall(text))
    token = manage.split("token=", 1)[1]
    secrets = [token, sign_in.rsplit("/", 1)[1]]
    assert any(token in a["content"] for m in whole for a in m["attachments"])  # the .ics

    _, desk = await staff_member(clinic, "receptionist", f"desk@{clinic.slug}.test")
    doctor_id, doctor = await staff_member(clinic, "specialist", f"doc@{clinic.slug}.test")
    async with tenant_tx(clinic.tenant) as conn:  # her appointment's specialist
        await conn.execute(
            "UPDATE specialists SET staff_user = $1 WHERE id = $2",
            doctor_id,
            booked.setup.specialist_id,
        )
    for headers in (desk, doctor):
        for params in ({}, {"appointment_id": str(booked.appointment_id)}):
            r = await _outbox(client, clinic, headers, **params)
            for secret in secrets:
                assert secret not in r.text
            assert "cbl_" not in r.text and "/sign-in/" not in r.text and "/manage/" not in r.text
            messages = r.json()
            assert messages and all(m["redacted"] for m in messages)
            assert all(a["content"] == "" for m in messages for a in m["attachments"])
            patient = [m for m in messages if m["recipient"] == "lea@example.test"]
            assert patient and all(LINK_REMOVED in m["body_text"] for m in patient)
            assert all(LINK_REMOVED in (m["body_html"] or "") for m in patient)
        # The same messages, the same metadata: only the links are gone. (A specialist's are
        # those of their appointments: not the sign-in link, which belongs to none.)
        listed = (await _outbox(client, clinic, headers)).json()
        seen = [m for m in whole if headers is desk or m["appointment_id"] is not None]
        assert [(m["id"], m["recipient"], m["template"]) for m in listed] == [
            (m["id"], m["recipient"], m["template"]) for m in seen
        ]
        assert len(seen) == len(whole) - (0 if headers is desk else 1)

    # Each read is audited, and says whether links were shown.
    async with tenant_tx(clinic.tenant) as conn:
        details = await conn.fetch(
            "SELECT staff_role, detail FROM audit_events WHERE detail LIKE 'api messages outbox%'"
        )
    assert {(d["staff_role"], d["detail"]) for d in details} == {
        ("admin", "api messages outbox"),
        ("receptionist", "api messages outbox (links removed)"),
        ("specialist", "api messages outbox (links removed)"),
    }

    # The patient's own links still work.
    page = await client.get(_path(manage))
    assert page.status_code == 200 and "Your appointment" in page.text
    async with fresh_client(client) as browser:
        r = await browser.post(_path(sign_in))
        assert r.status_code == 303 and r.headers["location"] == f"/c/{clinic.slug}/me"


@pytest.mark.parametrize(
    "text",
    [
        "Manage: https://clinic.example/c/x/manage/1b2c?token=cbl_abc-DEF_123 today",
        '<a href="http://127.0.0.1:8000/c/x/sign-in/9f.AbC-_d">sign in</a>',
        "relative /c/x/manage/1?token=cbl_q and a bare cbl_Zz9-_ token",
        "HTTPS://CLINIC.EXAMPLE/C/X/MANAGE/1?TOKEN=CBL_UPPER",
    ],
)
def test_without_links_leaves_no_link_and_no_token(text: str) -> None:
    out = without_links(text)
    assert LINK_REMOVED in out
    assert not re.search(r"cbl_|://|/c/|manage/|sign-in/", out, re.I), out


def test_without_links_keeps_the_words() -> None:
    text = "Hello Lea, your appointment on 2 December at 10:00 (Europe/Berlin). See you!"
    assert without_links(text) == text
