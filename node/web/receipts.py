"""A member's own report as a file, and receipts for reports: giving and checking them.

Rule: nothing reaches a member's phone as a file unless she asks twice (a page that
says what a file on a phone means, then a confirm POST), and then under a neutral,
random name with nothing in it but what she wrote. A receipt is made when a report
arrives, held in memory for that session's next look at "My reports" (once, at most
``pending.PENDING_RECEIPT_S``), and never stored: checking a code or a file needs only the
node's keys (node/receipts.py). The check page is public (a lawyer has no account),
rate-limited per client, and says only valid or not and when.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

from aiohttp import web

from protocol import receipt as wire
from protocol.errors import ProtocolError

from .. import receipts
from ..errors import NotFound
from .context import client, need, render, session, state, translator, unlocked
from .forms import Form
from .i18n import SHARE_LABELS, Translator
from .pending import ReceiptDesk

MAX_RECEIPT_TEXT_CHARS = 2000
NOTE_NAME_HEX_CHARS = 6


def desk(request: web.Request) -> ReceiptDesk:
    return state(request).receipts


def receipt_keys(request: web.Request) -> receipts.ReceiptKeys:
    return receipts.ReceiptKeys.of(unlocked(request).keys)


# --- giving a receipt --------------------------------------------------------------


def issue_receipt(request: web.Request, content: dict[str, Any]) -> None:
    """Make the receipt for a report just stored and hold it for this session's next
    look at "My reports"."""
    current = session(request)
    if current is None:
        return
    now = state(request).host.clock.now()
    issued = receipt_keys(request).issue(content, now)
    desk(request).hold(current.id, issued, now)


def pending_receipt(request: web.Request) -> receipts.Issued | None:
    """The receipt waiting for this session, taken (it is shown once)."""
    current = session(request)
    if current is None:
        return None
    return desk(request).take(current.id, state(request).host.clock.now())


async def save_receipt(request: web.Request) -> web.StreamResponse:
    """The receipt file, rebuilt from the signed receipt the page carried: only a
    receipt this node signed is served, so the page cannot be made to serve anything
    else as a download."""
    need(request)
    form = Form(await request.post(), translator(request))
    raw = form.hidden("receipt") or ""
    try:
        signed = base64.b64decode(raw, validate=True)
        opened = wire.open_receipt(signed)
    except (ValueError, ProtocolError):
        raise web.HTTPBadRequest() from None
    keys = receipt_keys(request)
    if opened.node not in keys.public:
        raise web.HTTPBadRequest()
    code = keys.code(opened.report, opened.at)
    text = receipts.file_text(opened.at, code, signed)
    return attachment(text, "receipt")


def attachment(text: str, stem: str) -> web.Response:
    name = f"{stem}-{secrets.token_hex(NOTE_NAME_HEX_CHARS // 2)}.txt"
    return web.Response(
        text=text,
        content_type="text/plain",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- checking a receipt ------------------------------------------------------------


async def check_page(request: web.Request) -> web.Response:
    return render(request, "receipt_check.html", form=Form({}, translator(request)), verdict=None)


async def check_receipt(request: web.Request) -> web.Response:
    t = translator(request)
    form = Form(await request.post(), t)
    text = form.text("receipt", max_chars=MAX_RECEIPT_TEXT_CHARS, multiline=True, keep=False)
    if not form.ok:
        return render(request, "receipt_check.html", status=400, form=form, verdict=None)
    now = state(request).host.clock.now()
    who = client(request).key("receipt")
    if who is not None and not desk(request).checks.take(who, now):
        form.refuse(t.gettext("Too many attempts. Wait a while and try again."))
        return render(request, "receipt_check.html", status=429, form=form, verdict=None)
    verdict = receipt_keys(request).verify(text)
    return render(request, "receipt_check.html", form=form, verdict=verdict)


# --- her own report as a file ------------------------------------------------------


async def _own_report(request: web.Request) -> Any:
    me = need(request)
    store = unlocked(request).store
    try:
        found = await store.reports.get(int(request.match_info["id"]))
    except (ValueError, NotFound):
        raise web.HTTPNotFound() from None
    if found.member_id != me.member_id:
        raise web.HTTPNotFound()
    return found


async def save_page(request: web.Request) -> web.Response:
    found = await _own_report(request)
    return render(request, "report_save.html", report=found, form=Form({}, translator(request)))


async def save_report(request: web.Request) -> web.Response:
    found = await _own_report(request)
    t = translator(request)
    form = Form(await request.post(), t)
    if form.hidden("confirm") != "yes":
        form.error("confirm", t.gettext("Tick the box to say you understand."))
        return render(request, "report_save.html", status=400, report=found, form=form)
    return attachment(note_text(t, found.created, found.content), "note")


def note_text(t: Translator, created: int, content: dict[str, Any]) -> str:
    """A report as plain text in the reader's language: what she wrote, nothing more."""
    lines = [t.gettext("Report of %(date)s", date=t.date(created)), ""]
    categories = ", ".join(t.category(c) for c in content.get("categories", []))
    lines.append(t.gettext("What happened?") + " " + categories)
    if content.get("incident"):
        lines.append(t.gettext("When? (the day, no time)") + " " + t.date(content["incident"]))
    if content.get("region"):
        lines.append(t.gettext("Where? (the area, never an address)") + " " + content["region"])
    if "danger" in content:
        lines.append(t.gettext("How dangerous was it?") + " " + t.danger(int(content["danger"])))
    indicators = sorted(content.get("indicators", {}).items())
    if indicators or content.get("person"):
        lines += ["", t.gettext("About the person (fill in what you know)")]
        lines += [f"{t.indicator(kind)}: {value}" for kind, value in indicators]
        if content.get("person"):
            lines.append(str(content["person"]))
    lines += ["", t.gettext("What happened, in your own words"), str(content.get("text", ""))]
    if content.get("share") in SHARE_LABELS:
        lines += ["", t.gettext(SHARE_LABELS[content["share"]])]
    # The digest a receipt for this report names: matching it ties a receipt to this text.
    fingerprint = wire.report_digest(content).hex()
    lines += ["", t.gettext("Fingerprint (SHA-256): %(hex)s", hex=fingerprint)]
    return "\n".join(lines) + "\n"


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/receipt", check_page, name="receipt_check")
    router.add_post("/receipt", check_receipt)
    router.add_post("/receipt/save", save_receipt, name="receipt_save")
    router.add_get(r"/reports/{id:[0-9]{1,18}}/save", save_page, name="report_save")
    router.add_post(r"/reports/{id:[0-9]{1,18}}/save", save_report)
