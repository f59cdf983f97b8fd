"""Magic-link sign-in: single use, expiry, one clinic only, unknown e-mail indistinguishable,
rate limited; the list shows the patient's appointments at that clinic with manage links."""

from __future__ import annotations

import re
from urllib.parse import urlsplit
from uuid import UUID

import httpx

from carebook.tenancy import tenant_tx
from notifications import magic
from tests.conftest import Clinic
from tests.notifications.conftest import Inbox, book_one, fresh_client


async def ask(browser: httpx.AsyncClient, clinic: Clinic, email: str) -> httpx.Response:
    return await browser.post(f"/c/{clinic.slug}/sign-in", data={"email": email})


async def last_link_id(clinic: Clinic) -> UUID:
    async with tenant_tx(clinic.tenant) as conn:
        link_id: UUID = await conn.fetchval(
            "SELECT id FROM magic_links ORDER BY created_at DESC LIMIT 1"
        )
    return link_id


async def job_for_last_request(clinic: Clinic) -> str | None:
    """What the ``notifications.magic_link`` job does for the latest request."""
    return await magic.send_link(clinic.tenant, await last_link_id(clinic), None)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def test_link_signs_in_once_and_lists_this_clinics_appointments(
    client: httpx.AsyncClient, clinic: Clinic, make_clinic, smtp: Inbox
) -> None:
    booked = await book_one(client, clinic.tenant, email_addr="mia@example.test")
    other = await make_clinic()  # the same patient at another clinic
    elsewhere = await book_one(client, other.tenant, email_addr="mia@example.test")

    async with fresh_client(client) as browser:
        r = await ask(browser, clinic, "Mia@Example.test")
        assert r.status_code == 200 and "Check your e-mail" in r.text
        assert await job_for_last_request(clinic) == "sent"
        [mail] = smtp.to("mia@example.test")
        text = mail.get_body(("plain",)).get_content()
        link = re.search(r"http\S+/sign-in/\S+", text).group(0)  # type: ignore[union-attr]

        # Opening the link (a mail scanner may do it too) does not spend it; the button does.
        for _ in range(2):
            confirm = await browser.get(path_of(link))
            assert confirm.status_code == 200 and "See my appointments" in confirm.text
        r = await browser.post(path_of(link))
        assert r.status_code == 303 and r.headers["location"] == f"/c/{clinic.slug}/me"
        page = await browser.get(f"/c/{clinic.slug}/me")
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        assert str(booked.appointment_id) in page.text
        assert str(elsewhere.appointment_id) not in page.text
        manage = re.search(r'href="([^"]+/manage/[^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        opened = await browser.get(path_of(manage.replace("&amp;", "&")))
        assert opened.status_code == 200 and "Your appointment" in opened.text
        # The session is this clinic's only.
        r = await browser.get(f"/c/{other.slug}/me")
        assert r.status_code == 303

        # Single use.
        assert (await browser.get(path_of(link))).status_code == 410
        assert (await browser.post(path_of(link))).status_code == 410


async def test_unknown_email_answers_exactly_like_a_known_one(
    client: httpx.AsyncClient, clinic: Clinic, smtp: Inbox
) -> None:
    await book_one(client, clinic.tenant, email_addr="known@example.test")
    async with fresh_client(client) as browser:
        known = await ask(browser, clinic, "known@example.test")
        unknown = await ask(browser, clinic, "nobody@example.test")
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("known@", "X@") == unknown.text.replace("nobody@", "X@")
    per_response = {"content-length", "x-request-id"}  # the e-mail's length; a fresh id
    assert {k: v for k, v in known.headers.items() if k not in per_response} == {
        k: v for k, v in unknown.headers.items() if k not in per_response
    }
    # Both wrote a request and queued a job; only the known address gets an e-mail.
    async with tenant_tx(clinic.tenant) as conn:
        jobs = await conn.fetchval(
            "SELECT count(*) FROM public.job_outbox WHERE schema_name = $1 AND actor = $2",
            clinic.tenant.schema, magic.ACTOR,
        )  # fmt: skip
    assert jobs == 2
    assert await job_for_last_request(clinic) is None
    assert smtp.to("nobody@example.test") == []


async def test_expired_link_and_another_clinics_link_are_refused(
    client: httpx.AsyncClient, clinic: Clinic, make_clinic, smtp: Inbox
) -> None:
    await book_one(client, clinic.tenant, email_addr="old@example.test")
    other = await make_clinic()
    async with fresh_client(client) as browser:
        await ask(browser, clinic, "old@example.test")
        link_id = await last_link_id(clinic)
        token = magic.link_token(clinic.tenant, link_id)
        # Another clinic's page does not accept this clinic's link (nor a forged one).
        for method in (browser.get, browser.post):
            assert (await method(f"/c/{other.slug}/sign-in/{token}")).status_code == 410
            forged = f"{link_id}.{'A' * 43}"
            assert (await method(f"/c/{clinic.slug}/sign-in/{forged}")).status_code == 410
        async with tenant_tx(clinic.tenant) as conn:
            await conn.execute(
                "UPDATE magic_links SET expires_at = now() - interval '1 second' WHERE id = $1",
                link_id,
            )
        expired = await browser.get(f"/c/{clinic.slug}/sign-in/{token}")
        assert expired.status_code == 410 and "not valid any more" in expired.text
        assert (await browser.post(f"/c/{clinic.slug}/sign-in/{token}")).status_code == 410
        assert (await browser.get(f"/c/{clinic.slug}/me")).status_code == 303


async def test_sign_in_requests_are_rate_limited_and_validated(
    client: httpx.AsyncClient, clinic: Clinic, smtp: Inbox
) -> None:
    async with fresh_client(client) as browser:
        bad = await ask(browser, clinic, "not an address")
        assert bad.status_code == 422 and "Enter a valid e-mail address." in bad.text
        statuses = [(await ask(browser, clinic, "a@example.test")).status_code for _ in range(5)]
    assert statuses[:4] == [200] * 4 and statuses[4] == 429
