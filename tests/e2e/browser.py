"""Helpers for Playwright browser tests against Debian's Chromium.

Run ``scripts/ensure_chromium.sh`` and ``scripts/ensure_axe.sh`` first.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from playwright.async_api import Error as PlaywrightError

if TYPE_CHECKING:
    from playwright.async_api import Page

DEFAULT_CHROMIUM = "/usr/bin/chromium"
AXE_JS = Path(__file__).parent / "vendor" / "axe.min.js"

# Playwright adds --headless itself. --no-sandbox is required when running as root.
LAUNCH_ARGS: list[str] = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

SERIOUS_IMPACTS = ("serious", "critical")


def chromium_path() -> str:
    """Return the Chromium binary to launch: $CAREBOOK_CHROMIUM or /usr/bin/chromium."""
    path = os.environ.get("CAREBOOK_CHROMIUM") or DEFAULT_CHROMIUM
    if not os.access(path, os.X_OK):
        raise RuntimeError(
            f"Chromium not found at {path!r}. Run scripts/ensure_chromium.sh "
            "(installs Debian's chromium package) or set CAREBOOK_CHROMIUM=/path/to/chromium."
        )
    return path


async def run_axe(page: Page, options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Inject axe-core into ``page`` and return the ``violations`` of ``axe.run()``."""
    if not AXE_JS.is_file():
        raise RuntimeError(f"{AXE_JS} is missing. Run scripts/ensure_axe.sh.")
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        try:
            await page.add_script_tag(path=AXE_JS)
        except PlaywrightError:
            # A strict Content-Security-Policy blocks inline <script>; evaluate is exempt.
            await page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    result = await page.evaluate("(options) => axe.run(document, options || {})", options)
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def serious_violations(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep only violations whose impact is serious or critical."""
    return [v for v in violations if v.get("impact") in SERIOUS_IMPACTS]
