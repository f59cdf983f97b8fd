"""The booking page's JavaScript strings, translated with the pages' gettext catalogs.

The scripts under ``static/booking/`` write their text as ``_("…", {params})`` and
``ngettext("one", "many", n, {params})`` (``static/booking/i18n.js``); ``pybabel extract``
collects them into the same ``messages.pot`` as the templates (``babel.cfg``). A page that
loads those scripts renders ``js_messages()`` as a JSON block (``id="js-messages"``): the
page's language, the locale for ``Intl`` dates and times, and the translation of every
string the scripts use, found by extracting the scripts once per process.

Plural forms: gettext picks a form with the catalog's ``Plural-Forms`` expression, which the
page cannot evaluate without ``eval`` (the CSP forbids it). So the page gets the form index
for n = 0…199 (``pluralIndex``, one digit each); gettext rules depend on n, n % 10 and
n % 100 only, so n ≥ 200 uses the index of 100 + n % 100.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from babel.messages.extract import extract

from carebook import i18n

SCRIPTS = ("booking",)  # folders of static/ whose scripts use i18n.js
KEYWORDS = {"_": None, "ngettext": (1, 2)}


@cache
def script_messages() -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Every ``_()`` msgid and ``ngettext()`` (singular, plural) pair in the scripts."""
    singles: set[str] = set()
    plurals: set[tuple[str, str]] = set()
    static = resources.files("web").joinpath("static")
    for folder in SCRIPTS:
        for entry in static.joinpath(folder).iterdir():
            if not entry.name.endswith(".js"):
                continue
            with entry.open("rb") as fh:
                for _line, message, _comments, _context in extract(
                    "javascript", fh, keywords=KEYWORDS
                ):
                    if isinstance(message, tuple):
                        plurals.add((str(message[0]), str(message[1])))
                    else:
                        singles.add(str(message))
    return tuple(sorted(singles)), tuple(sorted(plurals))


def _plural_index(lang: str) -> Any:
    translations = i18n.translations(lang)
    rule = getattr(translations, "plural", None)
    return rule if callable(rule) else (lambda n: int(n != 1))


@cache
def js_messages(lang: str) -> dict[str, Any]:
    """What ``static/booking/i18n.js`` reads: language, format locale, translations."""
    singles, plurals = script_messages()
    index = _plural_index(lang)
    table = [int(index(n)) for n in range(200)]
    messages: dict[str, str] = {}
    if lang != i18n.DEFAULT_LANGUAGE:
        for msgid in singles:
            text = i18n.gettext(lang, msgid)
            if text != msgid:
                messages[msgid] = text
    plural_forms: dict[str, list[str]] = {}
    for singular, plural in plurals:
        forms: list[str] = []
        for form in range(max(table) + 1):
            n = table.index(form) if form in table else 1
            forms.append(i18n.ngettext(lang, singular, plural, n))
        plural_forms[singular] = forms
    return {
        "lang": lang,
        "formatLocale": str(i18n.FORMAT_LOCALES.get(lang, lang)).replace("_", "-"),
        "messages": messages,
        "plurals": plural_forms,
        "pluralIndex": "".join(str(i) for i in table),
    }
