"""The admin's languages page: which languages the node offers, how complete each
catalogue is, and export and import of a catalogue for the organisation's own
translators (node/translations.py does the work).

Rule: an import is two steps: the uploaded file is checked and previewed, and only
"Apply" (a second POST, holding no file) changes the node's translations; the checked
result waits in memory for that session only, at most ``MAX_PENDING_IMPORTS`` of them.
Only this page's upload may be larger than the site's usual form limit, and only for
a logged-in admin (node/web/site.py).
"""

from __future__ import annotations

from collections import OrderedDict

from aiohttp import web

from .. import translations
from ..errors import UsageError
from ..languages import DEFAULT_LANG, LANGUAGES
from ..translations import Preview
from .context import need, offered_languages, redirect_done, render, state, take_notice, translator

MAX_UPLOAD_BYTES = translations.MAX_IMPORT_BYTES + 64 * 1024
MAX_PENDING_IMPORTS = 8
_pending: OrderedDict[tuple[int, str], Preview] = OrderedDict()


UPLOAD_PATH = "/admin/languages/import"


def is_upload(path: str) -> bool:
    """Whether ``path`` is the import form's target (the one large form)."""
    return path == UPLOAD_PATH


def _lang(value: object) -> str:
    if not isinstance(value, str) or value not in LANGUAGES or value == DEFAULT_LANG:
        raise web.HTTPNotFound()
    return value


def _key(request: web.Request) -> tuple[int, str]:
    me = need(request, "admin")
    # Keyed by the web app too, so two nodes in one process never share a preview.
    return id(state(request)), me.id


async def languages_page(
    request: web.Request, *, preview: Preview | None = None, error: str = "", status: int = 200
) -> web.Response:
    need(request, "admin")
    overrides = state(request).overrides
    offered = offered_languages(request)
    rows = [
        {
            "code": code,
            "name": name,
            "offered": code in offered,
            **translations.counts(code, overrides),
        }
        for code, name in LANGUAGES.items()
        if code != DEFAULT_LANG
    ]
    return render(
        request,
        "admin_languages.html",
        status=status,
        rows=rows,
        preview=preview.summary() if preview else None,
        preview_lang=preview.lang if preview else "",
        error=error,
        done=take_notice(request),
    )


async def export(request: web.Request) -> web.Response:
    need(request, "admin")
    lang = _lang(request.match_info["lang"])
    data = translations.export_po(lang, state(request).overrides)
    return web.Response(
        body=data,
        content_type="text/x-gettext-translation",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="alertnode-{lang}.po"'},
    )


async def check_upload(request: web.Request) -> web.Response:
    form = await request.post()
    upload = form.get("file")
    try:
        return await _check_upload(request, form.get("lang"), upload)
    finally:
        # aiohttp spools an uploaded file to a temporary file; it is ours to close.
        if isinstance(upload, web.FileField):
            upload.file.close()


async def _check_upload(request: web.Request, wanted: object, upload: object) -> web.Response:
    key = _key(request)
    t = translator(request)
    lang = _lang(wanted)
    if not isinstance(upload, web.FileField):
        return await languages_page(request, error=t.gettext("Choose a .po file."), status=400)
    data = upload.file.read(translations.MAX_IMPORT_BYTES + 1)
    try:
        preview = translations.check_import(lang, data, state(request).overrides)
    except UsageError:
        return await languages_page(
            request, error=t.gettext("That file is not a readable .po catalogue."), status=400
        )
    _pending[key] = preview
    _pending.move_to_end(key)
    while len(_pending) > MAX_PENDING_IMPORTS:
        _pending.popitem(last=False)
    return await languages_page(request, preview=preview)


async def apply(request: web.Request) -> web.Response:
    key = _key(request)
    t = translator(request)
    preview = _pending.get(key)
    if preview is None:
        return await languages_page(
            request, error=t.gettext("Check the file again: nothing is waiting."), status=400
        )
    del _pending[key]
    translations.apply(preview, state(request).overrides)
    return redirect_done(
        request,
        "/admin/languages",
        t.ngettext(
            "Applied: %(num)d entry changed. Pages show it now.",
            "Applied: %(num)d entries changed. Pages show them now.",
            len(preview.changed),
        ),
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/admin/languages", languages_page, name="admin_languages")
    lang = r"{lang:[a-z]{2}(_[A-Za-z]{4})?}"
    router.add_get(f"/admin/languages/{lang}/export", export, name="admin_language_export")
    router.add_post(UPLOAD_PATH, check_upload, name="admin_language_import")
    router.add_post("/admin/languages/apply", apply, name="admin_language_apply")
