"""Contact details saved by the old staff settings form under ``contact_*`` keys.

Until 2026-11-30 the form wrote ``contact_email``/``contact_phone``/``contact_address``,
keys nothing read (pages, messages and the .ics read ``email``/``phone``/``address``). The
platform migration of 2026-12-01 moves each into its real key when that key is empty and the
value passes the checks ``PATCH …/settings`` applies (e-mail syntax, phone as E.164 in the
clinic's region). A value that fails stays under its old key (nothing is lost; the form shows
the real keys, so the clinic types it again) and is counted, never logged.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import asyncpg

from carebook.contact import normalize_email, normalize_phone, region_for
from carebook.errors import ValidationFailed

log = logging.getLogger(__name__)
LEGACY = {"contact_email": "email", "contact_phone": "phone", "contact_address": "address"}


def moved(settings: dict[str, Any], timezone: str) -> tuple[dict[str, Any], int]:
    """``settings`` with the legacy keys moved where valid; and how many stayed behind."""
    out = dict(settings)
    kept = 0
    for old, new in LEGACY.items():
        if old not in out:
            continue
        value = (out[old] or "").strip() if isinstance(out[old], str) else ""
        if not value or out.get(new):  # nothing to move, or the real key already holds one
            del out[old]
            continue
        try:
            if new == "email":
                value = normalize_email(value, new)
            elif new == "phone":
                value = normalize_phone(value, region_for(out.get("country"), timezone), new)
        except ValidationFailed:
            kept += 1
            continue
        out[new] = value
        del out[old]
    return out, kept


async def migrate(conn: asyncpg.Connection) -> None:
    rows = await conn.fetch(
        "SELECT id, settings, timezone FROM public.tenants "
        "WHERE settings ?| ARRAY['contact_email', 'contact_phone', 'contact_address'] FOR UPDATE"
    )
    kept = 0
    for row in rows:
        current = row["settings"]
        settings = json.loads(current) if isinstance(current, str) else dict(current)
        new, left = moved(settings, row["timezone"])
        kept += left
        await conn.execute(
            "UPDATE public.tenants SET settings = $2::jsonb WHERE id = $1",
            row["id"],
            json.dumps(new),
        )
    log.info(
        "legacy contact keys: %d clinics updated, %d values left under old keys", len(rows), kept
    )
