"""Pages of the organisation's own texts: "Using this safely" and its printable handout
(public), the resources page (members), and the admin's editor at /admin/texts.

Rule: a text is shown only through ``node.texts.to_html`` (escaped plain text with
paragraphs, headings, lists and https links); only an admin edits one, through a
CSRF-checked POST, one text of one language at a time; every change is kept sealed
in the settings store and leaves an audit entry that names the text and the language,
never its words.
"""

from __future__ import annotations

import logging

from aiohttp import web

from ..errors import UsageError
from ..texts import BY_KEY, TEXTS, TEXTS_SETTING
from ..texts import validate as validate_text
from .context import host, need, redirect, redirect_done, render, take_notice, translator, unlocked
from .forms import Form
from .i18n import LANGUAGES, Translator

log = logging.getLogger(__name__)


async def safety_page(request: web.Request) -> web.Response:
    """Anyone may read it, before signing up too; it says nothing that outs a reader."""
    return render(request, "safety.html")


async def handout_page(request: web.Request) -> web.Response:
    """The one-page handout, laid out by the bulletin's print stylesheet."""
    return render(request, "handout.html")


async def resources_page(request: web.Request) -> web.Response:
    need(request)
    return render(request, "resources.html")


def _rows(request: web.Request, lang: str, form: Form | None = None) -> list[dict[str, object]]:
    """One row a text: its label and help in the admin's language, its words in ``lang``."""
    t = translator(request)
    reader = Translator(lang)
    texts = unlocked(request).texts
    rows = []
    for spec in TEXTS:
        value = texts.get(spec.key, lang, reader.gettext)
        error = ""
        if form is not None and spec.key in form.values:
            value = str(form.values[spec.key])
            error = form.errors.get(spec.key, "")
        rows.append(
            {
                "key": spec.key,
                "label": t.gettext(spec.label),
                "help": t.gettext(spec.help),
                "value": value,
                "edited": texts.edited(spec.key, lang),
                "one_line": spec.one_line,
                "max_chars": spec.max_chars,
                "error": error,
            }
        )
    return rows


async def texts_home(request: web.Request) -> web.Response:
    need(request, "admin")
    return redirect(f"/admin/texts/{translator(request).lang}")


async def texts_page(
    request: web.Request, *, form: Form | None = None, status: int = 200
) -> web.Response:
    need(request, "admin")
    lang = request.match_info["lang"]
    if lang not in LANGUAGES:
        raise web.HTTPNotFound()
    return render(
        request,
        "admin_texts.html",
        status=status,
        text_lang=lang,
        rows=_rows(request, lang, form),
        saved=take_notice(request) == "saved",
    )


async def save_text(request: web.Request) -> web.Response:
    me = need(request, "admin")
    lang, key = request.match_info["lang"], request.match_info["key"]
    spec = BY_KEY.get(key)
    if lang not in LANGUAGES or spec is None:
        raise web.HTTPNotFound()
    t = translator(request)
    parts = unlocked(request)
    form = Form(await request.post(), t)
    # The length is judged by validate_text, after line ends are made one character.
    raw = form.text(key, required=False, max_chars=2 * spec.max_chars, multiline=not spec.one_line)
    if form.ok:
        try:
            text = validate_text(key, raw, t.gettext)
        except UsageError as exc:
            form.error(key, exc.message)
    if not form.ok:
        return await texts_page(request, form=form, status=400)
    if parts.texts.set(key, lang, text, Translator(lang).gettext):
        await parts.store.settings.put(TEXTS_SETTING, parts.texts.stored())
        entry = {"actor": me.member_id, "role": me.role, "action": "edit text"}
        await parts.store.audit.append(
            host(request).clock.now(), {**entry, "text": key, "lang": lang}
        )
        log.info("an admin edited one of the organisation's texts")
    return redirect_done(request, f"/admin/texts/{lang}", "saved")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/safety", safety_page, name="safety")
    router.add_get("/safety/print", handout_page, name="safety_print")
    router.add_get("/resources", resources_page, name="resources")
    router.add_get("/admin/texts", texts_home, name="admin_texts")
    # A language code, with its script where it has one (zh_Hans): node.languages.
    lang = r"{lang:[a-z]{2,3}(?:_[A-Z][a-z]{3})?}"
    router.add_get(f"/admin/texts/{lang}", texts_page, name="admin_texts_lang")
    router.add_post(f"/admin/texts/{lang}/{{key:[a-z_]{{1,32}}}}", save_text)
