"""Ten languages (issue 15 item 10): negotiation, right-to-left pages, a language whose
catalogue has not landed, the node's choice of languages and its own translations."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.errors import UsageError
from node.languages import LANGUAGES, code_for_tag, direction, html_lang
from node.overrides import Overrides
from node.settings import validate
from node.web import i18n
from node.web.i18n import Translator, negotiate, plural_index
from tests.node.test_web_support import Site, site_fixture  # noqa: F401

NEW = ("bg", "hu", "zh_Hans", "uk", "ar")


def test_the_ten_languages_and_their_native_names() -> None:
    assert len(LANGUAGES) == 11  # English and ten translations
    assert set(NEW) <= set(LANGUAGES)
    assert LANGUAGES["ar"] == "العربية" and LANGUAGES["zh_Hans"] == "简体中文"
    assert html_lang("zh_Hans") == "zh-Hans" and html_lang("fr") == "fr"
    assert direction("ar") == "rtl" and direction("fr") == "ltr"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9", "zh_Hans"),
        ("zh-Hans", "zh_Hans"),
        ("zh", "zh_Hans"),
        ("zh-Hans-HK", "zh_Hans"),
        ("zh-TW,en;q=0.5", "en"),  # Traditional Chinese is not offered
        ("zh-Hant,fr;q=0.4", "fr"),
        ("ar-EG,ar;q=0.9", "ar"),
        ("uk-UA", "uk"),
        ("hu;q=0.2,bg;q=0.8", "bg"),
        ("", "en"),
    ],
)
def test_accept_language(header: str, expected: str) -> None:
    assert negotiate(header) == expected


def test_negotiation_honours_the_offered_languages() -> None:
    assert negotiate("ar,fr;q=0.5", offered=["fr"]) == "fr"
    assert negotiate("ar", offered=["fr"]) == "en"
    assert code_for_tag("ZH_hans") == "zh_Hans"


def test_a_language_without_a_catalogue_falls_back_to_english(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The translators' catalogues land after this code: until then the words are English.
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.translations.cache_clear()
    try:
        t = Translator("bg")
        assert t.lang == "bg" and t.html_lang == "bg"
        assert t.gettext("Check") == "Check"
        assert t.ngettext("%(num)d alert", "%(num)d alerts", 3) == "3 alerts"
        assert t.date("2026-01-02")  # babel knows the locale's dates without a catalogue
    finally:
        i18n.translations.cache_clear()


def test_plural_forms_come_from_babel() -> None:
    # Arabic has six forms, Ukrainian three, Hungarian two, Chinese one.
    assert {plural_index("ar")(n) for n in (0, 1, 2, 3, 11, 100)} == {0, 1, 2, 3, 4, 5}
    assert {plural_index("uk")(n) for n in (1, 2, 5)} == {0, 1, 2}
    assert {plural_index("hu")(n) for n in (1, 2)} == {0, 1}
    assert {plural_index("zh_Hans")(n) for n in (1, 2)} == {0}


def test_overrides_lie_over_the_shipped_catalogue() -> None:
    overrides = Overrides(None)
    overrides.replace(
        "fr", {"Check": "Vérifier un client", ("%(num)d alert", 1): "%(num)d signalements"}
    )
    t = Translator("fr", overrides)
    assert t.gettext("Check") == "Vérifier un client"
    assert t.ngettext("%(num)d alert", "%(num)d alerts", 5) == "5 signalements"
    assert str(t.markup("Check")) == "Vérifier un client"
    assert Translator("fr").gettext("Check") != "Vérifier un client"


def test_overrides_are_kept_in_the_data_directory(tmp_path: Path) -> None:
    data = tmp_path
    Overrides(data).replace("ar", {"Check": "تحقق"})
    assert Overrides(data).messages("ar") == {"Check": "تحقق"}
    Overrides(data).replace("ar", {})
    assert Overrides(data).messages("ar") == {}


def test_the_languages_setting() -> None:
    assert validate("languages", "fr ar zh-Hans") == ["en", "fr", "zh_Hans", "ar"]
    assert validate("languages", "") == ["en"]  # English is always offered
    with pytest.raises(UsageError, match="Languages offered: de is not one"):
        validate("languages", "fr de")


async def test_arabic_pages_lay_out_right_to_left(site: Site) -> None:
    anyone = await site.visitor(**{"Accept-Language": "ar"})
    status, html, _ = await anyone.get("/login")
    assert status == 200 and '<html lang="ar" dir="rtl">' in html
    chinese = await site.visitor(**{"Accept-Language": "zh-CN"})
    _, html, _ = await chinese.get("/login")
    assert '<html lang="zh-Hans" dir="ltr">' in html
    assert 'value="zh_Hans" lang="zh-Hans"' in html  # the picker names it in its own tag


async def test_the_node_chooses_its_languages(site: Site) -> None:
    site.node.unlocked().settings.set("languages", ["fr"])
    anyone = await site.visitor(**{"Accept-Language": "ar,fr;q=0.5"})
    _, html, _ = await anyone.get("/login")
    assert '<html lang="fr" dir="ltr">' in html
    picker = html.split('action="/lang"')[1].split("</form>")[0]
    assert 'value="fr"' in picker and 'value="en"' in picker and 'value="ar"' not in picker
    # A language the node does not offer cannot be chosen by hand either.
    status, _, _ = await anyone.switch_language("ar")
    assert status == 303
    _, html, _ = await anyone.get("/login")
    assert '<html lang="fr"' in html


async def test_an_imported_translation_shows_on_the_next_page(site: Site) -> None:
    anyone = await site.visitor(**{"Accept-Language": "fr"})
    site.state.overrides.replace("fr", {"Log in": "Entrer ici"})
    _, html, _ = await anyone.get("/login")
    assert "Entrer ici" in html
