"""Refresh the message catalogs: extract ``messages.pot``, then merge it into every
``<lang>/LC_MESSAGES/messages.po`` (new strings arrive untranslated; translators fill them).

    .venv/bin/python scripts/i18n_catalog.py            # extract + update every catalog
    .venv/bin/python scripts/i18n_catalog.py --init fr  # start a new language

Catalogs are compiled in memory when first used (``carebook.i18n``); no ``.mo`` to build.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from babel.messages.frontend import CommandLineInterface

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "src" / "carebook" / "locale"


def pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", *args])


def main(argv: list[str]) -> None:
    os.chdir(ROOT)
    pot = str(LOCALE / "messages.pot")
    pybabel("extract", "-F", "babel.cfg", "-k", "_", "-k", "N_", "--no-location",
            "--omit-header", "-o", pot, ".")  # fmt: skip
    if argv[:1] == ["--init"]:
        pybabel("init", "-i", pot, "-d", str(LOCALE), "-l", argv[1])
        return
    pybabel("update", "-i", pot, "-d", str(LOCALE), "--no-fuzzy-matching", "--ignore-obsolete")


if __name__ == "__main__":
    main(sys.argv[1:])
