"""A patient's language choice for messages, recorded from the booking request.

The choice is the page's language (``?lang=``/the language cookie, else ``Accept-Language``);
a request that expresses none records nothing, so the clinic's ``default_language`` applies.
"""

from __future__ import annotations

from typing import Any

from carebook import i18n
from carebook.tenancy import Tenant, tenant_tx


def chosen_language(request: Any) -> str | None:
    """The language the request asks for, or ``None`` when it asks for none we have."""
    choice = i18n.normalize(request.query_params.get("lang")) or i18n.normalize(
        request.cookies.get(i18n.LANG_COOKIE)
    )
    if choice:
        return choice
    for tag in i18n.parse_accept_language(request.headers.get("accept-language")):
        if found := i18n.normalize(tag):
            return found
    return None


async def remember_language(tenant: Tenant, email: str, language: str | None) -> None:
    if not language or not email or len(email) > 254:
        return
    async with tenant_tx(tenant) as conn:
        await conn.execute(
            """INSERT INTO patient_preferences (email_key, language) VALUES (lower($1), $2)
               ON CONFLICT (email_key) DO UPDATE SET language = EXCLUDED.language,
                   updated_at = now()
               WHERE patient_preferences.language IS DISTINCT FROM EXCLUDED.language""",
            email.strip(),
            language,
        )
