"""Catalogue export and import for the organisation's own translators (issue 15 item 10):
checked, previewed, applied without a restart, with the glossary in the export."""

from __future__ import annotations

import io

import aiohttp
import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from node import translations
from node.errors import UsageError
from node.overrides import Overrides
from node.web.i18n import Translator
from tests.node.test_web_support import Site, Visitor, site_fixture  # noqa: F401

SINGLE = "Check"  # a msgid every catalogue has
WITH_VALUE = "Nickname: %(name)s"


def po_of(lang: str, entries: dict[str, str], fuzzy: tuple[str, ...] = ()) -> bytes:
    catalog = Catalog(locale=lang)
    for msgid, msgstr in entries.items():
        catalog.add(msgid, msgstr, flags=("fuzzy",) if msgid in fuzzy else ())
    out = io.BytesIO()
    write_po(out, catalog)
    return out.getvalue()


def test_the_template_has_the_msgids_used_here() -> None:
    ids = {m.id for m in translations.template()}
    assert SINGLE in ids and WITH_VALUE in ids


def test_export_has_the_glossary_and_the_overrides() -> None:
    overrides = Overrides(None)
    overrides.replace("fr", {SINGLE: "Vérifier un client"})
    data = translations.export_po("fr", overrides)
    text = data.decode()
    assert "sex worker = (to agree); avoid: prostitute" in text
    assert "alertnode translations import fr FILE" in text
    catalog = read_po(io.BytesIO(data))
    assert catalog[SINGLE].string == "Vérifier un client"
    # Without overrides a language exports its shipped words and its own plural forms.
    arabic = read_po(io.BytesIO(translations.export_po("ar", Overrides(None))))
    assert arabic[SINGLE] is not None and arabic[SINGLE].string not in ("", SINGLE)
    assert arabic.num_plurals == 6


def test_export_edit_import_round_trip_applies_without_a_restart() -> None:
    overrides = Overrides(None)

    catalog = read_po(io.BytesIO(translations.export_po("fr", overrides)))
    catalog[SINGLE].string = "Vérifier un client"
    out = io.BytesIO()
    write_po(out, catalog)
    preview = translations.check_import("fr", out.getvalue(), overrides)
    summary = preview.summary()
    assert summary["changed"] == 1 and summary["refused"] == 0
    assert summary["changes"][0]["after"] == "Vérifier un client"
    assert summary["unchanged"] == summary["translated"] - 1
    translations.apply(preview, overrides)
    assert Translator("fr", overrides).gettext(SINGLE) == "Vérifier un client"
    # Importing the shipped words again removes the override.
    shipped = translations.shipped("fr")[SINGLE].string
    preview = translations.check_import("fr", po_of("fr", {SINGLE: shipped}), overrides)
    translations.apply(preview, overrides)
    assert overrides.messages("fr") == {}


@pytest.mark.parametrize(
    ("msgid", "msgstr", "reason"),
    [
        (WITH_VALUE, "Pseudo", "placeholders differ"),
        (WITH_VALUE, "Pseudo : %(nom)s", "placeholders differ"),
        (SINGLE, "Vérifier %(name)s", "placeholders differ"),
        (SINGLE, "<b>Vérifier</b>", "adds HTML the original does not have: b"),
        (SINGLE, 'Vérifier <img src=x onerror="alert(1)">', "adds HTML"),
        (SINGLE, "Vérifier 100%", "% sign"),
    ],
)
def test_import_refuses_bad_entries(msgid: str, msgstr: str, reason: str) -> None:
    overrides = Overrides(None)
    preview = translations.check_import("fr", po_of("fr", {msgid: msgstr}), overrides)
    assert preview.summary()["refused"] == 1 and reason in preview.refused[0]["reason"]
    translations.apply(preview, overrides)
    assert overrides.messages("fr") == {}


def test_import_ignores_unknown_and_fuzzy_entries_and_unreadable_files() -> None:
    overrides = Overrides(None)
    data = po_of("fr", {"Not a string of this node": "x", SINGLE: "Vérifier"}, fuzzy=(SINGLE,))
    preview = translations.check_import("fr", data, overrides)
    assert preview.unknown == 1 and preview.fuzzy == 1 and preview.result == {}
    with pytest.raises(UsageError, match=r"not a readable \.po"):
        translations.check_import("fr", b'msgid "a"\nmsgstr "b\n\xff', overrides)
    with pytest.raises(UsageError, match="translations are for one of"):
        translations.check_import("en", data, overrides)


def test_import_of_plural_forms() -> None:
    overrides = Overrides(None)
    template = {m.id[0]: m.id for m in translations.template() if isinstance(m.id, tuple)}
    singular, plural = next(iter(template.values()))
    catalog = Catalog(locale="uk")
    catalog.add((singular, plural), ("один", "кілька", "багато"))
    out = io.BytesIO()
    write_po(out, catalog)
    preview = translations.check_import("uk", out.getvalue(), overrides)
    assert preview.summary()["refused"] == 0, preview.refused
    translations.apply(preview, overrides)
    assert overrides.messages("uk")[(singular, 2)] == "багато"


# --- the admin's languages page --------------------------------------------------


async def _upload(admin: Visitor, lang: str, data: bytes) -> tuple[int, str]:
    form = aiohttp.FormData()
    form.add_field("csrf", await admin.token("/"))
    form.add_field("lang", lang)
    form.add_field("file", data, filename="x.po", content_type="text/x-gettext-translation")
    status, html, _ = await admin.post("/admin/languages/import", form)
    return status, html


async def test_the_admin_exports_checks_and_applies_a_catalogue(site: Site) -> None:
    admin = await site.member("root", "admin")
    status, html, _ = await admin.get("/admin/languages")
    assert status == 200 and 'href="/admin/languages/ar/export"' in html
    status, body, resp = await admin.get("/admin/languages/fr/export")
    assert status == 200 and 'filename="alertnode-fr.po"' in resp.headers["Content-Disposition"]
    catalog = read_po(io.BytesIO(body.encode()))
    catalog["Log in"].string = "Entrer ici"
    out = io.BytesIO()
    write_po(out, catalog)
    data = out.getvalue()
    status, html = await _upload(admin, "fr", data)
    assert status == 200, html
    assert "Changed: 1" in html and "Entrer ici" in html
    visitor = await site.visitor(**{"Accept-Language": "fr"})
    assert "Entrer ici" not in (await visitor.get("/login"))[1]  # previewed, not applied
    status, _, resp = await admin.post("/admin/languages/apply", {}, page="/admin/languages")
    assert status == 303
    assert "Entrer ici" in (await visitor.get("/login"))[1]
    # Members cannot reach it; nor can a stranger upload a large body.
    member = await site.member("alice")
    status, _, _ = await member.get("/admin/languages")
    assert status == 403
    status, _ = await _upload(member, "fr", data)
    assert status in (403, 413)


async def test_a_large_upload_is_refused_unless_an_admin_sends_it(site: Site) -> None:
    admin = await site.member("root", "admin")
    big = b"# padding\n" * 9000  # ~90 KB: over the site's 64 KiB form limit
    status, html = await _upload(admin, "fr", big + b'msgid "Log in"\nmsgstr "Entrer"\n')
    assert status == 200 and "Changed: 1" in html
    member = await site.member("alice")
    status, _ = await _upload(member, "fr", big)
    assert status == 413
