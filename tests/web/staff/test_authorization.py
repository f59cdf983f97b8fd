"""Every staff page and form, tried with every role, no session and another clinic's session.

The table below is the contract: a staff route missing from it fails the test, so a new
page cannot be added without deciding (and testing) who may use it. CSRF: every
state-changing form without its token is refused with 403.
"""

from __future__ import annotations

import re
import uuid

from litestar.routes import HTTPRoute

from carebook.app import create_app
from tests.web.staff.support import add_member, browser, form_token, sign_in

ALL, FRONT, ADMIN = ("admin", "receptionist", "specialist"), ("admin", "receptionist"), ("admin",)
EDITORS = ("admin", "specialist")
ANON = "anonymous"
EXPECTED: dict[tuple[str, str], tuple[str, ...] | str] = {
    ("GET", "/c/{clinic:str}/staff"): ALL,
    ("GET", "/c/{clinic:str}/staff/login"): ANON,
    ("POST", "/c/{clinic:str}/staff/login"): ANON,
    ("POST", "/c/{clinic:str}/staff/logout"): ALL,
    ("GET", "/c/{clinic:str}/staff/password/forgot"): ANON,
    ("POST", "/c/{clinic:str}/staff/password/forgot"): ANON,
    ("GET", "/c/{clinic:str}/staff/password"): ANON,
    ("POST", "/c/{clinic:str}/staff/password"): ANON,
    ("GET", "/c/{clinic:str}/staff/agenda"): ALL,
    ("GET", "/c/{clinic:str}/staff/appointments/{appointment_id:uuid}"): ALL,
    ("POST", "/c/{clinic:str}/staff/appointments/{appointment_id:uuid}/actions"): ALL,
    ("GET", "/c/{clinic:str}/staff/appointments/{appointment_id:uuid}/reschedule"): ALL,
    ("POST", "/c/{clinic:str}/staff/appointments/{appointment_id:uuid}/reschedule"): ALL,
    ("GET", "/c/{clinic:str}/staff/book"): FRONT,
    ("POST", "/c/{clinic:str}/staff/book"): FRONT,
    ("GET", "/c/{clinic:str}/staff/patients"): FRONT,
    ("GET", "/c/{clinic:str}/staff/availability"): EDITORS,
    ("POST", "/c/{clinic:str}/staff/availability/{specialist_id:uuid}/weekly"): EDITORS,
    ("POST", "/c/{clinic:str}/staff/availability/{specialist_id:uuid}/overrides"): EDITORS,
    (
        "POST",
        "/c/{clinic:str}/staff/availability/{specialist_id:uuid}/overrides/"
        "{override_id:uuid}/delete",
    ): EDITORS,
    ("POST", "/c/{clinic:str}/staff/closures"): ADMIN,
    ("GET", "/c/{clinic:str}/staff/settings"): ADMIN,
    ("GET", "/c/{clinic:str}/staff/catalog"): ADMIN,
    ("POST", "/c/{clinic:str}/staff/catalog/services"): ADMIN,
    ("POST", "/c/{clinic:str}/staff/catalog/services/{service_id:uuid}"): ADMIN,
    ("GET", "/c/{clinic:str}/staff/catalog/calendars/new"): ADMIN,
    ("GET", "/c/{clinic:str}/staff/catalog/calendars/{calendar_id:uuid}"): ADMIN,
    ("POST", "/c/{clinic:str}/staff/catalog/calendars"): ADMIN,
    ("POST", "/c/{clinic:str}/staff/catalog/calendars/{calendar_id:uuid}"): ADMIN,
    ("POST", "/c/{clinic:str}/staff/settings"): ADMIN,
    ("POST", "/c/{clinic:str}/staff/settings/logo"): ADMIN,
    ("POST", "/c/{clinic:str}/staff/settings/tokens"): ADMIN,
    ("POST", "/c/{clinic:str}/staff/settings/tokens/{token_id:uuid}/revoke"): ADMIN,
    ("POST", "/c/{clinic:str}/staff/closures/{closure_id:uuid}/delete"): ADMIN,
    ("GET", "/c/{clinic:str}/staff/patients/{patient_id:uuid}"): FRONT,
    ("GET", "/c/{clinic:str}/staff/team"): ADMIN,
    ("POST", "/c/{clinic:str}/staff/team/invite"): ADMIN,
    ("POST", "/c/{clinic:str}/staff/team/{staff_id:uuid}/reset"): ADMIN,
}
PARAM = re.compile(r"{(\w+):(\w+)}")


def staff_pages() -> list[tuple[str, str, dict]]:
    out = []
    for route in create_app().routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/c/{clinic:str}/staff"):
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods - {"HEAD", "OPTIONS"}:
                out.append((method, route.path, dict(handler.opt)))
    return sorted(out, key=lambda x: (x[1], x[0]))


def url(path: str, slug: str) -> str:
    return PARAM.sub(lambda m: slug if m.group(1) == "clinic" else str(uuid.uuid4()), path)


def test_every_staff_page_is_in_the_table_and_declares_its_audience():
    pages = staff_pages()
    assert len(pages) >= 10
    for method, path, opt in pages:
        assert (method, path) in EXPECTED, f"new staff route {method} {path}: add it to EXPECTED"
        expected = EXPECTED[(method, path)]
        if expected == ANON:
            assert opt.get("anonymous") is True, (method, path)
        else:
            assert tuple(opt.get("roles", ())) == expected, (method, path, opt)
    assert {(m, p) for m, p, _ in pages} == set(EXPECTED), "EXPECTED lists a route that is gone"


async def test_each_role_no_session_and_another_clinics_session(client, make_clinic):
    a, b = await make_clinic(), await make_clinic()
    members = {role: await add_member(a, role) for role in ALL}
    outsider = await add_member(b, "admin")
    sessions = {}
    async with (
        browser(client) as w_admin,
        browser(client) as w_rec,
        browser(client) as w_spec,
        browser(client) as w_out,
        browser(client) as anon,
    ):
        webs = {"admin": w_admin, "receptionist": w_rec, "specialist": w_spec}
        for role, web in webs.items():
            sessions[role] = await sign_in(web, members[role])
        await sign_in(w_out, outsider)
        for method, path, _opt in staff_pages():
            expected = EXPECTED[(method, path)]
            if expected == ANON:
                continue
            target = url(path, a.slug)
            # No session: pages send to sign-in, forms are refused.
            r = await anon.request(method, target, data={} if method == "POST" else None)
            if method == "GET":
                assert r.status_code == 303 and "/staff/login" in r.headers["location"], (
                    method,
                    path,
                    r.status_code,
                )
            else:
                assert r.status_code in (401, 403), (method, path, r.status_code)
            # Another clinic's session is no session here.
            r = await w_out.request(
                method, target, data={"csrf_token": "x"} if method == "POST" else None
            )
            assert r.status_code in (303, 401, 403), (method, path, r.status_code)
            if method == "GET":
                assert "/staff/login" in r.headers.get("location", ""), (method, path)
            for role, web in webs.items():
                data = {"csrf_token": sessions[role]} if method == "POST" else None
                if path.endswith("/logout"):
                    continue  # tried last, below: it would end the session
                r = await web.request(method, target, data=data)
                if role in expected:
                    assert r.status_code not in (401, 403), (role, method, path, r.status_code)
                else:
                    assert r.status_code == 403, (role, method, path, r.status_code)
        for role, web in webs.items():
            r = await web.post(
                url("/c/{clinic:str}/staff/logout", a.slug), data={"csrf_token": sessions[role]}
            )
            assert r.status_code == 303


async def test_every_form_without_its_csrf_token_is_refused(client, clinic):
    admin = await add_member(clinic, "admin")
    async with browser(client) as web, browser(client) as anon:
        csrf = await sign_in(web, admin)
        await form_token(anon, clinic)  # the anonymous forms' cookie is set
        posts = [(p, e) for m, p, _ in staff_pages() if m == "POST" for e in [EXPECTED[(m, p)]]]
        assert posts
        for path, expected in posts:
            target = url(path, clinic.slug)
            who = anon if expected == ANON else web
            r = await who.post(target, data={"email": admin.email, "password": "x"})
            assert r.status_code == 403, (path, r.status_code)
            assert "csrf_failed" in r.text
            r = await who.post(target, data={"csrf_token": "0" * 64, "form_token": "forged"})
            assert r.status_code == 403, (path, r.status_code)
        # The token itself works (the session is still there).
        assert csrf
        assert (await web.get(url("/c/{clinic:str}/staff/agenda", clinic.slug))).status_code == 200
