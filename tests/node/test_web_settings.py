"""The settings table: every setting has a label and help in words, validation names
the setting by its label, the admin page and the docs are generated from it, and its
words are in the translation catalogue."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from node.errors import UsageError
from node.settings import (
    DOCS_BEGIN,
    DOCS_END,
    SETTINGS,
    Settings,
    markdown,
    validate,
    with_markdown,
)
from node.web.admin import _settings_rows
from node.web.i18n import Translator
from tests.node.test_web_support import Site, site_fixture  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "admin-guide.md"
POT = ROOT / "node" / "locale" / "messages.pot"


def test_every_setting_has_a_label_and_help_in_words() -> None:
    assert SETTINGS, "the table is empty"
    for s in SETTINGS:
        assert s.label and s.help, s.name
        assert s.label != s.name and "_" not in s.label, s.name
        assert s.label[0].isupper() and s.help.endswith("."), s.name
        # The default is a value the setting accepts, written as a form shows it.
        assert validate(s.name, s.kind.show(s.default)) == s.default, s.name


def test_the_docs_section_is_the_generated_one() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    start, end = text.index(DOCS_BEGIN), text.index(DOCS_END) + len(DOCS_END) + 1
    assert text[start:end] == markdown(), "run: python -m node.settings --update " + str(GUIDE)
    for s in SETTINGS:
        assert f"**{s.label}** (`{s.name}`)" in markdown()
    # The check can fail: a stale section differs from the generated one.
    stale = text.replace("Default hops", "Hops", 1)
    assert stale[start:end] != markdown()
    assert with_markdown(stale) == text


def test_with_markdown_needs_the_markers() -> None:
    with pytest.raises(UsageError):
        with_markdown("# A guide without a settings section\n")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("alert_hops", "9", "Default hops: choose a number from 0 to 6."),
        ("alert_hops", "two", "Default hops: write a whole number from 0 to 6, in figures."),
        ("checks_per_hour", True, "Checks per member per hour: write a whole number from 1"),
        ("phone_region", "GBR", "Country for phone numbers: write a two-letter country code"),
        ("regions", "GB-LND nowhere!", "Regions: NOWHERE! is not a region code"),
        ("regions", " ".join(["GB"] * 51), "Regions: list at most 50 region codes."),
        ("colour", "red", "There is no setting called colour."),
    ],
)
def test_a_bad_value_is_refused_naming_the_setting_by_its_label(
    name: str, value: object, message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        validate(name, value)
    assert caught.value.message.startswith(message), caught.value.message
    if name != "colour":
        assert name not in caught.value.message


def test_values_are_read_the_way_an_admin_types_them() -> None:
    assert validate("regions", "fr-75, FR-13 fr-75") == ["FR-13", "FR-75"]
    assert validate("phone_region", " gb ") == "GB"
    assert validate("alert_hops", " 0 ") == 0
    settings = Settings({"alert_hops": 3, "unknown": 1})
    assert settings["alert_hops"] == 3 and "unknown" not in settings.as_dict()
    with pytest.raises(UsageError):
        settings.set("alert_hops", 7)
    assert settings["alert_hops"] == 3


def test_labels_help_and_messages_are_in_the_catalogue() -> None:
    with POT.open("rb") as f:
        ids = {m.id for m in read_po(f) if m.id}
    for s in SETTINGS:
        assert s.label in ids and s.help in ids, s.name
    source = "".join((ROOT / "node" / f).read_text() for f in ("settings.py", "setting_kinds.py"))
    messages = re.findall(r'N_\(\s*"([^"]+)"\s*\)', source)
    assert len(messages) >= 2 * len(SETTINGS)
    for message in messages:
        assert message in ids, message


class Marking(Translator):
    """A 'language' that shows whether a word went through the translator."""

    def gettext(self, message: str, **values: object) -> str:
        return "«" + super().gettext(message, **values) + "»"


def test_the_page_rows_show_labels_and_help_through_the_translator() -> None:
    rows = _settings_rows({}, Marking("en"))
    by_name = {r["name"]: r for r in rows}
    assert by_name["alert_hops"]["label"] == "«Default hops»"
    assert by_name["alert_hops"]["help"].startswith("«How far")
    assert by_name["alert_hops"]["allowed"] == "«A whole number from 0 to 6.»"
    assert by_name["regions"]["value"] == ""


async def test_the_admin_page_shows_labels_and_refuses_with_sentences(site: Site) -> None:
    admin = await site.member("root", "admin")
    status, html, _ = await admin.get("/admin/settings")
    assert status == 200
    for s in SETTINGS:
        assert f'<label for="f-{s.name}">{s.label}</label>' in html, s.name
        assert f'name="{s.name}"' in html
        assert f">{s.name}<" not in html, s.name
    fields = dict(re.findall(r'<input id="f-([a-z_]+)" name="[a-z_]+" value="([^"]*)"', html))
    fields["alert_hops"] = "9"
    status, html, _ = await admin.post("/admin/settings", fields, page="/admin/settings")
    assert status == 400
    assert "Default hops: choose a number from 0 to 6." in html
    assert "alert_hops must" not in html
    assert site.node.unlocked().settings["alert_hops"] == 2
