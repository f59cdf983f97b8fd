"""Browser fixtures: one headless Chromium per session, a fresh context per test.

Run ``scripts/ensure_chromium.sh`` and ``scripts/ensure_axe.sh`` first (``make test`` does).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.e2e.browser import LAUNCH_ARGS, chromium_path

PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}
VIEWPORTS = [PHONE, DESKTOP]  # @pytest.mark.parametrize("viewport", VIEWPORTS, ids=VIEWPORT_IDS)
VIEWPORT_IDS = ["phone", "desktop"]

NewPage = Callable[..., Awaitable[Page]]


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=chromium_path(), args=LAUNCH_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def new_page(browser: Browser) -> AsyncIterator[NewPage]:
    """Open pages in fresh contexts (separate storage, like separate browsers)."""
    contexts: list[BrowserContext] = []

    async def open_page(
        *, timezone_id: str = "Europe/Berlin", locale: str = "en-GB", **options: Any
    ) -> Page:
        context = await browser.new_context(
            viewport=options.pop("viewport", PHONE),
            timezone_id=timezone_id,
            locale=locale,
            **options,
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = await context.new_page()
        # Uncaught exceptions and console errors (CSP violations, failed loads) of the page.
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.js_errors = errors  # type: ignore[attr-defined]
        return page

    yield open_page
    for context in contexts:
        await context.close()
