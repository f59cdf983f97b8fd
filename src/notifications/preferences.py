"""A patient's language choice for messages, recorded from the booking request.

The choice is the page's language (``?lang=``/the language cookie, else ``Accept-Language``);
a request that expresses none records nothing, so the clinic's ``default_language`` applies.
The booking records it in its own transaction: ``book_hold_in()`` calls this domain's shared
function ``remember_patient_language()`` (sql/functions/preferences.sql).
"""

from __future__ import annotations

from typing import Any

from carebook import i18n


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
