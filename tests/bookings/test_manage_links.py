"""Manage links do not depend on which process served the booking (issue 17.5).

Each ``carebook run`` used to export its own ``http://host:port`` as the base URL, so two
processes behind one address handed out links to two different places. Now the link is
``CAREBOOK_BASE_URL`` when set, else the address the request came by (a host listed in
``CAREBOOK_ALLOWED_HOSTS`` when that is set).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from carebook.settings import get_settings
from tests.bookings.support import bookable, booking_body, idem, place_hold, slot
from tests.conftest import Clinic


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.delenv("CAREBOOK_BASE_URL", raising=False)
    monkeypatch.delenv("CAREBOOK_ALLOWED_HOSTS", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


async def _manage_url(client: httpx.AsyncClient, clinic: Clinic, days: int, host: str) -> str:
    setup = await bookable(clinic.tenant)
    hold = await place_hold(client, clinic.public, setup, slot(clinic.tenant, days=days))
    r = await client.post(f"{clinic.public}/bookings", json=booking_body(hold),
                          headers={**idem(), "Host": host})  # fmt: skip
    assert r.status_code == 201, r.text
    url: str = r.json()["manage_url"]
    return url


async def test_link_follows_the_address_the_patient_used(
    client: httpx.AsyncClient, clinic: Clinic, env: pytest.MonkeyPatch
) -> None:
    url = await _manage_url(client, clinic, 1, "book.example.test:8443")
    assert url.startswith(f"http://book.example.test:8443/c/{clinic.slug}/manage/"), url
    # Garbage in Host never reaches the link.
    url = await _manage_url(client, clinic, 2, "evil.test!x")
    assert url.startswith(f"http://127.0.0.1:8000/c/{clinic.slug}/manage/"), url


async def test_allowed_hosts_and_configured_base_url_win(
    client: httpx.AsyncClient, clinic: Clinic, env: pytest.MonkeyPatch
) -> None:
    env.setenv("CAREBOOK_ALLOWED_HOSTS", "book.example.test")
    get_settings.cache_clear()
    url = await _manage_url(client, clinic, 1, "book.example.test")
    assert url.startswith("http://book.example.test/c/"), url
    url = await _manage_url(client, clinic, 2, "attacker.test")
    assert url.startswith("http://127.0.0.1:8000/c/"), url
    env.setenv("CAREBOOK_BASE_URL", "https://care.example.org/")
    get_settings.cache_clear()
    url = await _manage_url(client, clinic, 3, "book.example.test")
    assert url.startswith(f"https://care.example.org/c/{clinic.slug}/manage/"), url


def test_carebook_run_does_not_pin_its_own_address() -> None:
    import inspect

    from carebook import cli

    assert 'setdefault("CAREBOOK_BASE_URL"' not in inspect.getsource(cli.cmd_run)
