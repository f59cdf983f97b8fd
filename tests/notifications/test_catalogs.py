"""Every catalog is complete and its placeholders match the English ones."""

from __future__ import annotations

from importlib import resources

import pytest
from babel.messages.pofile import read_po

from carebook import i18n


@pytest.mark.parametrize("lang", [lang for lang in i18n.available_languages() if lang != "en"])
def test_catalog_is_complete_and_consistent(lang: str) -> None:
    po = resources.files("carebook").joinpath("locale", lang, "LC_MESSAGES", "messages.po")
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    untranslated = [m.id for m in catalog if m.id and not m.string]
    assert untranslated == []
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]
    assert problems == []
    pot = resources.files("carebook").joinpath("locale", "messages.pot")
    with pot.open("rb") as fh:
        template = read_po(fh)
    missing = [m.id for m in template if m.id and m.id not in catalog]
    assert missing == [], "run scripts/i18n_catalog.py and translate the new strings"
