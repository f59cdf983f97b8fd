"""Clinic settings that clinic admins change: booking rules, contact details, branding.

They live in ``public.tenants.settings`` (jsonb) next to the ones ``ClinicSettings`` reads;
keys it does not know (contact, language, accent colour) are kept for the pages that use
them. Every value is checked here; the accent colour must keep white text readable
(WCAG AA contrast 4.5:1) because buttons and the header print white on it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from carebook.contact import normalize_email, normalize_phone, region_for
from carebook.errors import ValidationFailed
from carebook.tenancy import Tenant, platform_tx, tenant_tx
from tenants import service

LANGUAGES = {"en": "English", "de": "Deutsch", "fr": "Français", "es": "Español",
             "it": "Italiano", "nl": "Nederlands", "pl": "Polski", "pt": "Português"}  # fmt: skip
NUMBERS = {  # key: (label, min, max)
    "hold_minutes": ("Hold minutes", 1, 60),
    "reminder_lead_hours": ("Reminder lead (hours)", 1, 168),
    "cancellation_cutoff_hours": ("Cancellation cutoff (hours)", 0, 336),
    "no_show_grace_minutes": ("No-show grace (minutes)", 0, 120),
}
# The contact details ClinicSettings reads (booking pages, every message, the .ics LOCATION);
# the same keys and checks as PATCH /settings.
TEXTS = {"email": 320, "phone": 40, "address": 300, "website": 300}
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
LOGO_TYPES = {"image/png", "image/jpeg", "image/webp"}
MAX_LOGO_BYTES = 60 * 1024


def _luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_with_white(hex_colour: str) -> float:
    return 1.05 / (_luminance(hex_colour) + 0.05)


def clean(form: dict[str, str], tenant: Tenant) -> dict[str, Any]:
    """The settings of a form, checked; ValidationFailed lists every wrong field. Empty
    contact fields clear them; the phone is stored as E.164 in the clinic's region."""
    out: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for key, (label, low, high) in NUMBERS.items():
        try:
            value = int(form.get(key, ""))
            if not low <= value <= high:
                raise ValueError
            out[key] = value
        except ValueError:
            errors.append({"field": key, "message": f"{label}: a whole number {low}–{high}."})
    for key, limit in TEXTS.items():
        text = form.get(key, "").strip()
        if len(text) > limit:
            errors.append({"field": key, "message": f"At most {limit} characters."})
        out[key] = text or None
    try:
        if out.get("email"):
            out["email"] = normalize_email(out["email"], "email")
    except ValidationFailed as exc:
        errors.extend(exc.errors or [])
    try:
        region = region_for(tenant.settings.country, tenant.timezone)
        out["phone"] = normalize_phone(out.get("phone"), region, "phone")
    except ValidationFailed as exc:
        errors.extend(exc.errors or [])
    language = form.get("default_language", "en")
    if language not in LANGUAGES:
        errors.append({"field": "default_language", "message": "Choose a listed language."})
    out["default_language"] = language
    colour = form.get("accent_colour", "").strip()
    if colour:
        if not _COLOUR.match(colour):
            errors.append({"field": "accent_colour", "message": "A colour like #1849a9."})
        elif contrast_with_white(colour) < 4.5:
            errors.append({"field": "accent_colour", "message": (
                f"White text on {colour} has contrast {contrast_with_white(colour):.1f}:1; "
                "choose a darker colour (at least 4.5:1).")})  # fmt: skip
    out["accent_colour"] = colour.lower()
    if errors:
        raise ValidationFailed("Some settings need a fix.", errors=errors)
    return out


async def raw_settings(slug: str) -> dict[str, Any]:
    row = await service.clinic_row(slug)
    settings = row["settings"]
    data: dict[str, Any] = json.loads(settings) if isinstance(settings, str) else dict(settings)
    return data


async def save(slug: str, changes: dict[str, Any]) -> None:
    service.forget_cached(slug)
    async with platform_tx() as conn:
        await conn.execute(
            "UPDATE tenants SET settings = settings || $2::jsonb WHERE slug = $1",
            slug,
            json.dumps(changes),
        )


async def save_logo(tenant: Tenant, data: bytes, content_type: str) -> None:
    if content_type not in LOGO_TYPES or not _looks_like(data, content_type):
        raise ValidationFailed.field("logo", "A PNG, JPEG or WebP image, please.")
    if len(data) > MAX_LOGO_BYTES:
        raise ValidationFailed.field("logo", "The logo may be at most 60 KB.")
    async with tenant_tx(tenant) as conn:
        await conn.execute(
            """INSERT INTO clinic_branding (logo, logo_type) VALUES ($1, $2)
               ON CONFLICT (singleton) DO UPDATE
               SET logo = excluded.logo, logo_type = excluded.logo_type, updated_at = now()""",
            data,
            content_type,
        )


async def remove_logo(tenant: Tenant) -> None:
    async with tenant_tx(tenant) as conn:
        await conn.execute("DELETE FROM clinic_branding")


async def logo(tenant: Tenant) -> tuple[bytes, str] | None:
    async with tenant_tx(tenant) as conn:
        row = await conn.fetchrow("SELECT logo, logo_type FROM clinic_branding")
    return (bytes(row["logo"]), row["logo_type"]) if row else None


def _looks_like(data: bytes, content_type: str) -> bool:
    """The file's own signature agrees with its declared type (no SVG, no HTML)."""
    if content_type == "image/png":
        return data.startswith(b"\x89PNG\r\n\x1a\n")
    if content_type == "image/jpeg":
        return data.startswith(b"\xff\xd8\xff")
    return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
