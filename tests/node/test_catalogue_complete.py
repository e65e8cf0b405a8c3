"""Every language is complete: the catalogue test of issue 15 item 10.

Fails on any untranslated or fuzzy entry in any language's .po, on a language the
web app offers that has no .po yet, and on any msgid in the code that is missing from
node/locale/messages.pot (the code is extracted afresh to a temporary file, with the
same babel.cfg and keywords as node/locale/catalogues.py, and compared). Nothing here
is marked xfail: a string added without its translations fails the suite until
translators have caught up.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

from node.languages import DEFAULT_LANG, LANGUAGES

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "node" / "locale"
POT = LOCALE / "messages.pot"
TRANSLATED = sorted(code for code in LANGUAGES if code != DEFAULT_LANG)


def read(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f)


def ids(catalog: Catalog) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    out = tmp_path_factory.mktemp("pot") / "messages.pot"
    CommandLineInterface().run(  # type: ignore[no-untyped-call]
        [
            "pybabel",
            "-q",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "-k",
            "N_",
            "--no-location",
            "-o",
            str(out),
            str(ROOT),
        ]
    )
    return read(out)


def test_every_msgid_in_the_code_is_in_the_pot(extracted: Catalog) -> None:
    missing = sorted(ids(extracted) - ids(read(POT)))
    assert not missing, (
        f"{len(missing)} strings in the code are not in messages.pot "
        f"(run `make translations`): {missing[:10]}"
    )


@pytest.mark.parametrize("lang", TRANSLATED)
def test_language_has_a_catalogue(lang: str) -> None:
    po = LOCALE / lang / "LC_MESSAGES" / "messages.po"
    assert po.is_file(), f"{lang} has no catalogue: pybabel init -l {lang} from messages.pot"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_catalogue_is_translated_and_not_fuzzy(lang: str) -> None:
    po = LOCALE / lang / "LC_MESSAGES" / "messages.po"
    if not po.is_file():
        pytest.fail(f"{lang} has no catalogue")
    catalog = read(po)
    untranslated, fuzzy = [], []
    for message in catalog:
        if not message.id:
            continue  # the header
        key = message.id if isinstance(message.id, str) else message.id[0]
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            untranslated.append(key)
        if message.fuzzy:
            fuzzy.append(key)
    missing = sorted(ids(read(POT)) - ids(catalog))
    assert not untranslated, f"{lang}: {len(untranslated)} untranslated: {untranslated[:5]}"
    assert not fuzzy, f"{lang}: {len(fuzzy)} fuzzy: {fuzzy[:5]}"
    assert not missing, f"{lang}: {len(missing)} msgids of the pot missing: {missing[:5]}"
