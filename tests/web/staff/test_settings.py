"""Clinic settings: rules, contact, branding on the public pages, logo, API tokens."""

from __future__ import annotations

import re

from tenants.service import find_tenant
from tests.web.staff.support import add_member, browser, sign_in, staff_url

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)
FORM = {
    "hold_minutes": "15",
    "reminder_lead_hours": "48",
    "cancellation_cutoff_hours": "12",
    "no_show_grace_minutes": "5",
    "email": "desk@clinic.test",
    "phone": "030 1234567",
    "address": "Lindenstr. 1, Berlin",
    "website": "https://clinic.test",
    "default_language": "de",
    "accent_colour": "#0b6e4f",
}


async def test_admin_changes_settings_and_branding_reaches_the_public_pages(client, clinic):
    admin = await add_member(clinic, "admin")
    async with browser(client) as web:
        csrf = await sign_in(web, admin)
        page = await web.get(staff_url(clinic, "/settings/"))
        assert page.status_code == 200 and 'value="10"' in page.text  # hold minutes default
        r = await web.post(staff_url(clinic, "/settings/"), data={"csrf_token": csrf, **FORM})
        assert r.status_code == 200 and "Settings saved" in r.text, r.text[:500]
        tenant = await find_tenant(clinic.slug)
        assert (
            tenant.settings.hold_minutes == 15 and tenant.settings.cancellation_cutoff_hours == 12
        )
        # Contact details are the ones pages, messages and the .ics read (as PATCH /settings
        # stores them): the phone in E.164 for the clinic's region.
        assert tenant.settings.email == "desk@clinic.test"
        assert tenant.settings.phone == "+49301234567"
        assert tenant.settings.address == "Lindenstr. 1, Berlin"
        assert tenant.settings.website == "https://clinic.test"
        assert "Lindenstr. 1, Berlin" in (await client.get(f"/c/{clinic.slug}")).text
        r = await web.post(
            staff_url(clinic, "/settings/"), data={"csrf_token": csrf, **FORM, "phone": "12"}
        )
        assert r.status_code == 422 and "This phone number is not valid." in r.text
        css = await client.get(f"/c/{clinic.slug}/brand.css")
        assert "--brand: #0b6e4f" in css.text and css.headers["content-type"].startswith("text/css")
        public = await client.get(f"/c/{clinic.slug}")
        assert f'href="/c/{clinic.slug}/brand.css"' in public.text
        # A colour white text cannot be read on is refused, with the reason.
        r = await web.post(
            staff_url(clinic, "/settings/"),
            data={"csrf_token": csrf, **FORM, "accent_colour": "#ffee00"},
        )
        assert r.status_code == 422 and "contrast" in r.text
        r = await web.post(
            staff_url(clinic, "/settings/"), data={"csrf_token": csrf, **FORM, "hold_minutes": "0"}
        )
        assert r.status_code == 422 and "1–60" in r.text
        # Logo: a real PNG is kept and served; anything else is refused.
        r = await web.post(
            staff_url(clinic, "/settings/logo"),
            data={"csrf_token": csrf},
            files={"logo": ("logo.png", PNG, "image/png")},
        )
        assert r.status_code == 200 and "Logo saved" in r.text, r.text[:400]
        logo = await client.get(f"/c/{clinic.slug}/logo")
        assert logo.content == PNG and logo.headers["content-type"] == "image/png"
        assert (
            f"url(/c/{clinic.slug}/logo)" in (await client.get(f"/c/{clinic.slug}/brand.css")).text
        )
        r = await web.post(
            staff_url(clinic, "/settings/logo"),
            data={"csrf_token": csrf},
            files={"logo": ("x.png", b"<svg onload=alert(1)>", "image/png")},
        )
        assert r.status_code == 422


async def test_api_tokens_issued_shown_once_and_revoked(client, clinic):
    admin = await add_member(clinic, "admin")
    async with browser(client) as web:
        csrf = await sign_in(web, admin)
        r = await web.post(
            staff_url(clinic, "/settings/tokens"), data={"csrf_token": csrf, "name": "reports"}
        )
        assert r.status_code == 201
        token = re.search(r'data-testid="new-token">([^<]+)<', r.text).group(1)
        me = await client.get(f"{clinic.api}/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
        page = await web.get(staff_url(clinic, "/settings/"))
        assert token not in page.text and "reports" in page.text
        token_id = re.findall(r"/settings/tokens/([0-9a-f-]{36})/revoke", page.text)[-1]
        r = await web.post(
            staff_url(clinic, f"/settings/tokens/{token_id}/revoke"), data={"csrf_token": csrf}
        )
        assert r.status_code == 200
        me = await client.get(f"{clinic.api}/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 401
