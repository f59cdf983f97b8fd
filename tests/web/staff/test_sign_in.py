"""Staff sign-in on the web: onboarding and invitation links, reset, sign-out, lockout."""

from __future__ import annotations

from urllib.parse import urlsplit

from carebook.tenancy import tenant_tx
from tests.web.staff.support import (
    PASSWORD,
    add_member,
    browser,
    form_token,
    outbox_link,
    sign_in,
    staff_url,
)


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def choose_password(web, clinic, link: str, password: str) -> int:
    page = await web.get(local(link))
    assert page.status_code == 200, page.text[:300]
    token = await form_token(web, clinic, "/login")
    r = await web.post(
        staff_url(clinic, "/password"),
        data={
            "form_token": token,
            "token": dict(p.split("=", 1) for p in urlsplit(link).query.split("&"))["token"],
            "password": password,
            "password2": password,
        },
    )
    return r.status_code


async def test_onboarded_admin_sets_a_password_from_the_link_and_signs_in(client, clinic):
    link = await outbox_link(clinic, f"admin@{clinic.slug}.test")
    async with browser(client) as web:
        assert await choose_password(web, clinic, link, "a new admin password") == 303
        # The link worked once.
        assert (await web.get(local(link))).status_code == 404
        token = await form_token(web, clinic)
        r = await web.post(
            staff_url(clinic, "/login"),
            data={
                "email": f"admin@{clinic.slug}.test",
                "password": "a new admin password",
                "form_token": token,
            },
        )
        assert r.status_code == 303
        assert r.headers["location"] == staff_url(clinic, "/agenda")
        agenda = await web.get(staff_url(clinic, "/agenda"))
        assert agenda.status_code == 200
        assert "Clinic admin" in agenda.text


async def test_platform_api_returns_the_set_password_link(client, platform_token):
    from tests.conftest import unique_slug

    slug = unique_slug()
    r = await client.post(
        "/api/v1/platform/tenants/",
        headers={"Authorization": f"Bearer {platform_token}"},
        json={
            "slug": slug,
            "name": "Linked",
            "timezone": "Europe/Berlin",
            "admin_email": f"boss@{slug}.test",
        },
    )
    assert r.status_code == 201, r.text
    assert f"/c/{slug}/staff/password?token=cbl_" in r.json()["admin_set_password_url"]


async def test_admin_invites_a_receptionist_who_sets_a_password(client, clinic):
    admin = await add_member(clinic, "admin")
    async with browser(client) as web:
        csrf = await sign_in(web, admin)
        r = await web.post(
            staff_url(clinic, "/team/invite"),
            data={
                "csrf_token": csrf,
                "name": "Rita Reception",
                "email": "rita@x.test",
                "role": "receptionist",
            },
        )
        assert r.status_code == 201, r.text[:500]
        assert "/staff/password?token=" in r.text
    link = await outbox_link(clinic, "rita@x.test")
    async with browser(client) as web:
        assert await choose_password(web, clinic, link, "rita's password!") == 303
        token = await form_token(web, clinic)
        r = await web.post(
            staff_url(clinic, "/login"),
            data={"email": "rita@x.test", "password": "rita's password!", "form_token": token},
        )
        assert r.status_code == 303
        page = await web.get(staff_url(clinic, "/agenda"))
        assert "receptionist" in page.text
        # A receptionist has no settings.
        assert (await web.get(staff_url(clinic, "/team"))).status_code == 403


async def test_password_reset_by_link_ends_old_sessions(client, clinic):
    member = await add_member(clinic, "receptionist")
    async with browser(client) as old, browser(client) as web:
        await sign_in(old, member)
        token = await form_token(web, clinic, "/password/forgot")
        r = await web.post(
            staff_url(clinic, "/password/forgot"), data={"email": member.email, "form_token": token}
        )
        assert r.status_code == 201 or r.status_code == 200
        # The same answer for an unknown address.
        r2 = await web.post(
            staff_url(clinic, "/password/forgot"),
            data={"email": "nobody@x.test", "form_token": token},
        )
        assert r2.status_code == r.status_code
        link = await outbox_link(clinic, member.email)
        assert await choose_password(web, clinic, link, "brand new password") == 303
        # The old browser's session is gone: back to sign-in.
        r = await old.get(staff_url(clinic, "/agenda"))
        assert r.status_code == 303 and "/staff/login" in r.headers["location"]
        member_new = await sign_in(web, member, "brand new password")
        assert member_new


async def test_sign_out_ends_the_session(client, clinic):
    member = await add_member(clinic, "specialist")
    async with browser(client) as web:
        csrf = await sign_in(web, member)
        cookie = web.cookies.get("carebook_staff")
        r = await web.post(staff_url(clinic, "/logout"), data={"csrf_token": csrf})
        assert r.status_code == 303
        web.cookies.set("carebook_staff", cookie)  # a stolen copy is useless too
        r = await web.get(staff_url(clinic, "/agenda"))
        assert r.status_code == 303


async def test_five_failures_lock_the_account(client, clinic):
    member = await add_member(clinic, "receptionist")
    async with browser(client) as web:
        token = await form_token(web, clinic)
        for _ in range(5):
            r = await web.post(
                staff_url(clinic, "/login"),
                data={"email": member.email, "password": "wrong password", "form_token": token},
            )
            assert r.status_code == 401
        r = await web.post(
            staff_url(clinic, "/login"),
            data={"email": member.email, "password": PASSWORD, "form_token": token},
        )
        assert r.status_code == 401  # locked, even with the right password
    async with tenant_tx(clinic.tenant) as conn:
        await conn.execute(
            "UPDATE staff_users SET locked_until = now() - interval '1 s' WHERE id = $1", member.id
        )
    async with browser(client) as web:
        await sign_in(web, member)


async def test_open_redirects_are_refused(client, clinic):
    member = await add_member(clinic, "admin")
    async with browser(client) as web:
        token = await form_token(web, clinic)
        r = await web.post(
            staff_url(clinic, "/login"),
            data={
                "email": member.email,
                "password": PASSWORD,
                "form_token": token,
                "next": "//evil.test/x",
            },
        )
        assert r.headers["location"] == staff_url(clinic, "/agenda")


async def test_schema_ui_loads_no_cdn_assets(client):
    r = await client.get("/schema/swagger")
    assert r.status_code == 200
    # Every asset the page loads is ours (the embedded OpenAPI document may mention URLs).
    import re

    assets = re.findall(r'(?:src|href)="([^"]*)"', r.text)
    assert assets and all(a.startswith("/") and not a.startswith("//") for a in assets), assets
    vendored = "/static/vendor/swagger-ui-dist-5.18.2/swagger-ui-bundle.js"
    assert vendored in r.text
    assert (await client.get(vendored)).status_code == 200
