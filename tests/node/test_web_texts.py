"""A neutral face and the organisation's own texts (issue 14 items 1 and 6, issue 13
item 12): public pages and every page title say nothing about sex work or the
organisation; the quick exit leaves for the node's setting; an admin edits the public
name, the home page, the advice after a match, the resources page, "Using this
safely" and its handout, per language, as plain text."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from node.app import Node
from node.errors import UsageError
from node.languages import direction, html_lang
from node.service import Draft
from node.setting_kinds import QUICK_EXIT_DEFAULT
from node.settings import validate
from node.texts import TEXTS, TEXTS_SETTING, OrgTexts, texts_from, to_html
from node.web import web_app
from node.web.i18n import LANGUAGES, Translator
from tests.node.test_web_support import Site, Visitor, site_fixture  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
ORGANISATION = "Rosa Lindqvist Collective"
# Words that tell a reader what the site is for, in the six languages (matched
# case-insensitively inside words: "sex" finds "sexual", "client" finds "clientes").
TELLING = (
    # English
    "sex", "escort", "client", "booking", "punter", "prostitut", "brothel",
    "ugly mug", "bad date", "massage",
    # French
    "travailleu", "putain", "racolage",
    # Spanish, Portuguese
    "sexo", "trabajador", "trabajadora", "burdel", "puta", "acompanhante",
    "profissional do",
    # Romanian
    "escortă", "prostituat", "lucrătoare", "clienți",
    # Russian
    "секс", "клиент", "проститу", "эскорт", "бордел", "интим", "путан",
)  # fmt: skip
PUBLIC_PATHS = ("/", "/login", "/signup", "/safety", "/safety/print", "/no-such-page")


class Visible(HTMLParser):
    """The words a person (or a phone's history) sees: text, the title, and the
    attributes that are read out or shown."""

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self.title = ""
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in.append(tag)
        for name, value in attrs:
            if name in ("aria-label", "title", "alt", "placeholder", "value") and value:
                self.words.append(value)

    def handle_endtag(self, tag: str) -> None:
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        if "script" in self._in or "style" in self._in:
            return
        if "title" in self._in:
            self.title += data
        self.words.append(data)


def seen(html: str) -> Visible:
    parser = Visible()
    parser.feed(html)
    return parser


def telling(text: str, name: str = ORGANISATION) -> list[str]:
    low = text.casefold()
    found = [w for w in TELLING if w.casefold() in low]
    return found + ([name] if name.casefold() in low else [])


def test_the_scanner_finds_the_old_home_page_and_titles() -> None:
    # The check can fail: the logged-out home page before this change, and a title
    # carrying the organisation's name, are caught.
    old = (
        "This is a private safety service run by and for sex workers. Members check a "
        "phone number before a booking, and report dangerous clients."
    )
    assert {"sex", "booking", "client"} <= set(telling(old))
    assert telling(f"<title>Log in · {ORGANISATION}</title>") == [ORGANISATION]
    assert telling("Сервис для секс-работников") == ["секс"]
    assert telling("Community notes · Log in") == []


async def _named_site(make_node: object) -> tuple[Node, TestServer]:
    node = await make_node(name=ORGANISATION)  # type: ignore[operator]
    server = TestServer(web_app(node))
    await server.start_server()
    return node, server


async def test_public_pages_and_every_title_say_nothing_telling(make_node: object) -> None:
    node, server = await _named_site(make_node)
    site = Site(node, server)
    try:
        scanned = 0
        for lang in LANGUAGES:
            anyone = await site.visitor(**{"Accept-Language": lang})
            for path in PUBLIC_PATHS:
                async with anyone.client.get(path) as resp:
                    html = await resp.text()
                page = seen(html)
                assert page.title.strip(), (lang, path)
                assert f'<html lang="{html_lang(lang)}" dir="{direction(lang)}">' in html, (
                    lang,
                    path,
                )
                assert telling(" ".join(page.words)) == [], (lang, path)
                scanned += 1
        # Every page of every role: its title (the part a phone's history and tabs
        # keep) and the header's name.
        paths = sorted(
            {
                r.canonical
                for r in server.app.router.resources()
                if "{" not in r.canonical
                and not r.canonical.startswith("/static")
                # The quick exit ends the session and leaves the site.
                and r.canonical not in ("/exit", "/quick-exit")
            }
        )
        assert "/admin/texts" in paths and "/resources" in paths and "/safety" in paths
        paths += ["/admin/texts/fr", "/review/new"]
        for role in ("member", "caseworker", "admin"):
            v = await site.member(f"{role}1", role)
            for lang in LANGUAGES:
                await v.switch_language(lang)
                for path in paths:
                    async with v.client.get(path) as resp:
                        html = await resp.text()
                    if "html" not in resp.headers.get("Content-Type", ""):
                        continue
                    page = seen(html)
                    assert page.title.strip(), (role, lang, path)
                    assert telling(page.title) == [], (role, lang, path, page.title)
                    brand = re.search(r'class="brand" href="/">([^<]*)<', html)
                    assert brand and telling(brand.group(1)) == [], (role, lang, path)
                    scanned += 1
        assert scanned > 6 * len(PUBLIC_PATHS) + 3 * 6 * 10
    finally:
        await site.close()


async def test_the_locked_page_says_nothing_telling(make_node: object) -> None:
    node, server = await _named_site(make_node)
    await server.close()
    locked = Node(node.data_dir, node.config, clock=node.clock)
    server = TestServer(web_app(locked))
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            for lang in LANGUAGES:
                async with http.get(server.make_url("/"), headers={"Accept-Language": lang}) as r:
                    html = await r.text()
                assert r.status == 503 and 'id="quick-exit"' in html
                page = seen(html)
                assert page.title.strip() and telling(" ".join(page.words)) == [], lang
            async with http.get(server.make_url("/exit"), allow_redirects=False) as r:
                assert r.status == 303 and r.headers["Location"] == QUICK_EXIT_DEFAULT
    finally:
        await server.close()
        await locked.stop()


# --- the quick exit -------------------------------------------------------------------


def quick_exit_href(html: str) -> str:
    match = re.search(r'id="quick-exit"[^>]*href="([^"]*)"', html)
    assert match, "no quick exit on the page"
    return match.group(1).replace("&amp;", "&")


async def exit_target(anyone: Visitor, path: str) -> str:
    """Where the quick exit on ``path`` leads: its link goes through the node's /exit
    (which ends the session), and /exit redirects to the neutral site."""
    _, html, _ = await anyone.get(path)
    assert quick_exit_href(html) == "/exit", path
    async with anyone.client.get("/exit", allow_redirects=False) as resp:
        assert resp.status == 303
        return resp.headers["Location"]


async def settings_form(admin: Visitor) -> dict[str, str]:
    _, html, _ = await admin.get("/admin/settings")
    fields = dict(re.findall(r'<input id="f-[a-z_]+" name="([a-z_]+)" value="([^"]*)"', html))
    # A closed choice (report_withdrawal) is a list of answers in words.
    fields.update(
        re.findall(
            r'<select id="f-[a-z_]+" name="([a-z_]+)"[^>]*>\s*<option value="([^"]*)" selected',
            html,
        )
    )
    return fields


async def test_the_quick_exit_goes_where_the_setting_says(site: Site) -> None:
    anyone = await site.visitor()
    assert await exit_target(anyone, "/login") == QUICK_EXIT_DEFAULT
    admin = await site.member("root", "admin")
    values = await settings_form(admin)
    assert values["quick_exit_url"] == QUICK_EXIT_DEFAULT.replace("&", "&amp;")
    values = {k: v.replace("&amp;", "&") for k, v in values.items()}
    for bad in (
        "http://example.org/",
        "javascript:alert(1)",
        "https://user:pw@example.org/",
        "https://exa mple.org/",
        "https:///nohost",
        "/quick-exit",
        "https://localhost/",
    ):
        status, html, _ = await admin.post("/admin/settings", {**values, "quick_exit_url": bad})
        assert status == 400, bad
        assert "Quick exit destination: write a web address starting with https://" in html
    assert await exit_target(anyone, "/") == QUICK_EXIT_DEFAULT
    chosen = "https://www.example.org/weather?city=lisboa&units=c"
    status, _, _ = await admin.post("/admin/settings", {**values, "quick_exit_url": chosen})
    assert status == 303
    for path in ("/", "/login", "/safety", "/no-such-page"):
        assert await exit_target(anyone, path) == chosen, path
    stored = await site.store.settings.all()
    assert stored["quick_exit_url"] == chosen


def test_the_quick_exit_setting_is_an_https_address() -> None:
    assert validate("quick_exit_url", " https://duckduckgo.com/?q=weather ") == (
        "https://duckduckgo.com/?q=weather"
    )
    t = Translator("fr").gettext
    for bad in ("ftp://example.org", "https://example.org/\u202e", "https://" + "a" * 600 + ".org"):
        with pytest.raises(UsageError, match="https://"):
            validate("quick_exit_url", bad, t)


# --- the organisation's texts ---------------------------------------------------------


def test_texts_are_escaped_with_paragraphs_headings_lists_and_https_links() -> None:
    html = to_html(
        "# Help <now>\nCall us.\nWe answer.\n\n- one\n- <b>two</b>\n\n"
        "See https://example.org/a?b=1&c=2. Not javascript:alert(1) nor "
        'https://user@evil.example/ nor <a href="https://x.org">x</a>\n\n\n\n<script>x</script>'
    )
    assert "<h2>Help &lt;now&gt;</h2>" in html
    assert "<p>Call us.<br>\nWe answer.</p>" in html
    assert "<ul><li>one</li><li>&lt;b&gt;two&lt;/b&gt;</li></ul>" in html
    assert (
        '<a href="https://example.org/a?b=1&amp;c=2" rel="noreferrer noopener">'
        "https://example.org/a?b=1&amp;c=2</a>." in html
    )
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html and 'href="https://user@' not in html
    # The admin's own tag is text; only the address inside it becomes a link.
    assert "&lt;a href=&#34;" in html and '<a href="https://x.org">' not in html
    assert html.count("<a ") == 2
    assert "<h4>" in to_html("# Heading", 4)
    # Overrides that could make words read otherwise go; the joiners scripts need stay.
    assert to_html("abc\u202edef\u2066x\u2069") == "<p>abcdefx</p>"
    assert to_html("می\u200cخواهم \u200f") == "<p>می\u200cخواهم \u200f</p>"  # noqa: RUF001
    assert to_html("a\tb\x07c") == "<p>a bc</p>"


def test_edits_win_for_their_language_and_an_empty_one_restores_the_default() -> None:
    en, fr = Translator("en").gettext, Translator("fr").gettext
    texts = OrgTexts()
    assert texts.get("public_name", "en", en) == "Community notes"
    assert texts.set("home", "fr", "Bonjour.", fr)
    assert texts.get("home", "fr", fr) == "Bonjour."
    assert texts.get("home", "en", en) == OrgTexts.default("home", en)
    assert not texts.set("home", "en", OrgTexts.default("home", en), en)  # the default: no edit
    assert texts.stored() == {"fr": {"home": "Bonjour."}}
    again = texts_from({TEXTS_SETTING: texts.stored(), "regions": []})
    assert again.get("home", "fr", fr) == "Bonjour."
    assert texts.set("home", "fr", "", fr) and texts.stored() == {}
    # Whatever a store holds that is not a text is ignored.
    assert OrgTexts({"fr": {"nope": "x", "home": 3}, "en": "x"}).stored() == {}
    for spec in TEXTS:
        assert len(OrgTexts.default(spec.key, en)) <= spec.max_chars, spec.key
        assert telling(OrgTexts.default(spec.key, en)) == [], spec.key


async def test_admin_edits_a_text_per_language_with_csrf_and_an_audit_entry(site: Site) -> None:
    admin = await site.member("root", "admin")
    status, _, resp = await admin.get("/admin/texts")
    assert status == 303 and resp.headers["Location"] == "/admin/texts/en"
    status, html, _ = await admin.get("/admin/texts/fr")
    assert status == 200
    assert 'enctype="multipart/form-data"' in html and 'action="/admin/texts/fr/home"' in html
    assert html.count('name="csrf"') >= len(TEXTS) + 1

    # Without the form's token nothing changes.
    status, _, _ = await admin.post("/admin/texts/fr/home", {"home": "X", "csrf": "forged"})
    assert status == 403
    # Not an admin: no.
    member = await site.member("alice")
    status, _, _ = await member.post("/admin/texts/fr/home", {"home": "X"}, page="/")
    assert status == 403

    words = "Bienvenue chez nous.\n\nAppelez https://example.org/aide"
    form = aiohttp.FormData()
    form.add_field("csrf", await admin.token("/admin/texts/fr"))
    form.add_field("home", words)
    status, _, resp = await admin.post("/admin/texts/fr/home", form)
    assert status == 303 and resp.headers["Location"] == "/admin/texts/fr"
    name = {"public_name": "Les voisines"}
    status, _, _ = await admin.post("/admin/texts/fr/public_name", name, page="/admin/texts/fr")
    assert status == 303

    fr = await site.visitor(**{"Accept-Language": "fr"})
    _, html, _ = await fr.get("/")
    assert "<p>Bienvenue chez nous.</p>" in html
    assert '<a href="https://example.org/aide" rel="noreferrer noopener">' in html
    assert "<title>Les voisines</title>" in html
    _, html, _ = await fr.get("/login")
    assert "· Les voisines</title>" in html
    en = await site.visitor(**{"Accept-Language": "en"})
    _, html, _ = await en.get("/")
    assert "Bienvenue chez nous" not in html and "This site is for members only." in html
    assert "<title>Community notes</title>" in html

    # Sealed in the settings store, and an audit entry without the words.
    stored = await site.store.settings.all()
    assert stored[TEXTS_SETTING]["fr"]["home"] == words
    rows = await site.store.db.fetchall("SELECT name, value_enc FROM settings")
    assert all(b"Bienvenue" not in bytes(value) for _, value in rows)
    entries = await site.store.audit.list()
    edits = [(e["action"], e["text"], e["lang"]) for e in entries if e.get("text")]
    assert edits == [("edit text", "public_name", "fr"), ("edit text", "home", "fr")]
    assert "Bienvenue" not in repr(entries)
    status, html, _ = await admin.get("/admin/audit")
    assert "edited one of the organisation&#39;s texts: home (fr)" in html

    # Too long, or two lines for the name: refused, with the words kept on the form.
    status, html, _ = await admin.post(
        "/admin/texts/fr/public_name", {"public_name": "x" * 61}, page="/admin/texts/fr"
    )
    assert status == 400 and "at most 60 characters" in html
    status, html, _ = await admin.post(
        "/admin/texts/en/match_advice", {"match_advice": "y" * 2001}, page="/admin/texts/en"
    )
    assert status == 400 and 'aria-invalid="true"' in html and "y" * 2001 in html
    # The longest text in a language of two-byte letters fits the request limit as
    # the page sends it (multipart).
    long_ru = ("Очень длинный текст о безопасности. " * 250)[:8000]  # noqa: RUF001
    form = aiohttp.FormData()
    form.add_field("csrf", await admin.token("/admin/texts/ru"))
    form.add_field("safety", long_ru)
    status, _, _ = await admin.post("/admin/texts/ru/safety", form)
    assert status == 303
    ru = await site.visitor(**{"Accept-Language": "ru"})
    _, html, _ = await ru.get("/safety")
    assert long_ru.strip() in html
    # Emptying a text brings the default back.
    status, _, _ = await admin.post("/admin/texts/fr/home", {"home": ""}, page="/admin/texts/fr")
    assert status == 303
    _, html, _ = await fr.get("/")
    assert "Bienvenue chez nous" not in html
    status, _, _ = await admin.post("/admin/texts/xx/home", {"home": "x"}, page="/admin/texts/fr")
    assert status == 404
    status, _, _ = await admin.post("/admin/texts/fr/nope", {"nope": "x"}, page="/admin/texts/fr")
    assert status == 404


async def test_edits_survive_a_restart(make_node: object) -> None:
    node = await make_node()  # type: ignore[operator]
    store = node.unlocked().store
    texts = node.unlocked().texts
    texts.set("safety", "ro", "Text nou", Translator("ro").gettext)
    await store.settings.put(TEXTS_SETTING, texts.stored())
    await node.stop()
    again = Node(node.data_dir, node.config, clock=node.clock)
    await again.start(None)
    try:
        assert again.unlocked().texts.get("safety", "ro", str) == "Text nou"
    finally:
        await again.stop()


async def test_a_match_shows_the_organisations_advice(site: Site) -> None:
    await site.node.unlocked().alerts.publish(
        Draft(
            categories=["violence"],
            danger=3,
            region="GB-LND",
            indicators=[("phone", "+447700900123")],
        )
    )
    member = await site.member("alice")
    check = {"kind": "phone", "value": "+447700900123"}
    status, html, _ = await member.post("/check", check, page="/check")
    assert status == 200 and "What to do now" in html
    assert "tell someone you trust where you will be" in html
    admin = await site.member("root", "admin")
    advice = {"match_advice": "Call Maria on +44 7700 900999.\n# At night\nText us."}
    status, _, _ = await admin.post("/admin/texts/en/match_advice", advice, page="/admin/texts/en")
    assert status == 303
    status, html, _ = await member.post("/check", check, page="/check")
    assert "<p>Call Maria on +44 7700 900999.</p>\n<h4>At night</h4>" in html
    # No match: no advice block, the caution stays.
    status, html, _ = await member.post(
        "/check", {"kind": "phone", "value": "+447700900555"}, page="/check"
    )
    assert "Call Maria" not in html and "No alerts does not mean" in html


async def test_using_this_safely_in_every_language_and_linked_everywhere(site: Site) -> None:
    member = await site.member("alice")
    _, html, _ = await member.get("/")
    menu = html.split("<main")[0]
    assert 'href="/safety"' in menu.split('<nav aria-label="Main">')[1]  # the member menu
    for lang in LANGUAGES:
        anyone = await site.visitor(**{"Accept-Language": lang})
        for path in ("/safety", "/safety/print", "/login", "/"):
            status, html, _ = await anyone.get(path)
            assert status == 200, (lang, path)
            assert 'href="/safety"' in html.split("<footer")[1], (lang, path)
        status, html, _ = await anyone.get("/safety")
        assert html.count("<h2>") == 6 and 'href="/safety/print"' in html
    _, html, _ = await (await site.visitor()).get("/safety")
    for topic in ("Private browsing", "Lock-screen previews", "Translation apps",
                  "Feed readers", "Saved passwords", "The quick exit"):  # fmt: skip
        assert f"<h2>{topic}</h2>" in html
    assert "does not clear the browser&#39;s history" in html
    status, _, _ = await (await site.visitor()).get("/resources")
    assert status == 303  # members only
    status, html, _ = await member.get("/resources")
    assert status == 200 and "<h2>Health</h2>" in html


async def test_the_handout_is_laid_out_by_the_bulletins_print_css(site: Site) -> None:
    status, html, _ = await (await site.visitor()).get("/safety/print")
    assert status == 200
    main = html.split('<main id="main"')[1].split("</main>")[0]
    # The bulletin's print rules apply to it: the article is a .bulletin, and the
    # quick exit, header and footer (hidden in print) are outside it.
    assert '<article class="bulletin handout">' in main
    assert "exitbar" not in main and "<footer" not in main and "<header" not in main
    css = (ROOT / "node" / "static" / "style.css").read_text(encoding="utf-8")
    printing = css.split("@media print {")[1]
    assert ".exitbar, .top, .foot, .subnav { display: none; }" in printing
    assert ".bulletin h1" in printing
    # One page: the default handout is short in every language.
    for lang in LANGUAGES:
        assert len(OrgTexts.default("handout", Translator(lang).gettext)) <= 2500
    admin = await site.member("root", "admin")
    words = {"handout": "- Close the window.\n- Turn previews off."}
    status, _, _ = await admin.post("/admin/texts/en/handout", words, page="/admin/texts/en")
    assert status == 303
    _, html, _ = await (await site.visitor()).get("/safety/print")
    assert "<ul><li>Close the window.</li><li>Turn previews off.</li></ul>" in html


async def test_every_offered_language_has_its_texts_editor(site: Site) -> None:
    """Chinese (Simplified) is ``zh_Hans``: its editor was a 404, so a node could not
    write its own home page, advice or resources in Chinese (q1 walk)."""
    admin = await site.member("root", "admin")
    await admin.switch_language("zh_Hans", "/admin/texts")
    status, _, resp = await admin.get("/admin/texts")
    assert status == 303 and resp.headers["Location"] == "/admin/texts/zh_Hans"
    for lang in LANGUAGES:
        status, html, _ = await admin.get(f"/admin/texts/{lang}")
        assert status == 200, lang
        assert f'action="/admin/texts/{lang}/home"' in html
    words = "欢迎。"
    status, _, resp = await admin.post(
        "/admin/texts/zh_Hans/home", {"home": words}, page="/admin/texts/zh_Hans"
    )
    assert status == 303 and resp.headers["Location"] == "/admin/texts/zh_Hans"
    zh = await site.visitor(**{"Accept-Language": "zh-CN"})
    _, html, _ = await zh.get("/")
    assert f"<p>{words}</p>" in html
