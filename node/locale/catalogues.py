"""Extract, update and compile the web app's gettext catalogues (run from the repo root).

    python node/locale/catalogues.py extract   # node/locale/messages.pot from the code
    python node/locale/catalogues.py update    # merge it into every language's .po
    python node/locale/catalogues.py compile   # .po -> .mo (committed, shipped by pip)
    python node/locale/catalogues.py all       # the three, in order

Rule: the .po files are the sources translators edit; the .mo files are built from
them and committed so that a plain ``pip install .`` serves every language.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.frontend import CommandLineInterface

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "node" / "locale"
POT = LOCALE / "messages.pot"


def _languages() -> tuple[str, ...]:
    sys.path.insert(0, str(ROOT))
    from node.languages import LANGUAGES as offered

    return tuple(offered)


# Every translated language the pages offer (node/languages.py), without English.
LANGUAGES = tuple(code for code in _languages() if code != "en")


def pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])  # type: ignore[no-untyped-call]


def extract() -> None:
    pybabel(
        "extract",
        "-F",
        str(ROOT / "babel.cfg"),
        "-k",
        "N_",
        "--no-location",
        "--sort-output",
        "--project",
        "alertnode",
        "--copyright-holder",
        "alertnode",
        "-o",
        str(POT),
        str(ROOT),
    )


def update() -> None:
    for lang in LANGUAGES:
        po = LOCALE / lang / "LC_MESSAGES" / "messages.po"
        if po.exists():
            pybabel("update", "-i", str(POT), "-d", str(LOCALE), "-l", lang, "--no-fuzzy-matching")
        else:
            pybabel("init", "-i", str(POT), "-d", str(LOCALE), "-l", lang)


def compile_all() -> None:
    pybabel("compile", "-d", str(LOCALE), "--statistics")


def main(argv: list[str]) -> int:
    steps = {"extract": [extract], "update": [update], "compile": [compile_all]}
    steps["all"] = [extract, update, compile_all]
    if len(argv) != 1 or argv[0] not in steps:
        sys.stderr.write(__doc__ or "")
        return 2
    for step in steps[argv[0]]:
        step()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
