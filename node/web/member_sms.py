"""The member's SMS check settings (issue 15, point 2): opt in with a phone number, or
remove it.

Rule: the number is sealed and found by a keyed tag (node/store/sms.py); the page never
shows it back whole (only its last two digits), it travels only in POST bodies, and
nothing about it is logged. Removing it takes effect at once.
"""

from __future__ import annotations

from aiohttp import web

from .context import need, redirect_done, render, take_notice, translator, unlocked
from .forms import Form
from .i18n import LANGUAGES, N_

DONE = {
    "sms-set": N_("Your phone number is saved for the SMS check."),
    "sms-removed": N_("Your phone number is removed."),
}


async def _page(request: web.Request, form: Form, status: int = 200) -> web.Response:
    me = need(request)
    number = await unlocked(request).store.sms.number(me.member_id)
    done = DONE.get(take_notice(request), "")
    return render(
        request,
        "sms_settings.html",
        status=status,
        form=form,
        ending=number[-2:] if number else "",
        languages_list=list(LANGUAGES.items()),
        done=translator(request).gettext(done) if done else "",
    )


async def sms_page(request: web.Request) -> web.Response:
    need(request)
    t = translator(request)
    form = Form({}, t)
    form.values["lang"] = t.lang
    return await _page(request, form)


async def sms_submit(request: web.Request) -> web.Response:
    me = need(request)
    t = translator(request)
    opened = unlocked(request)
    form = Form(await request.post(), t)
    if form.choice("action", ("set", "remove")) == "remove":
        await opened.store.sms.remove(me.member_id)
        return redirect_done(request, "/account/sms", "sms-removed")
    e164 = form.indicator("phone", "phone", str(opened.settings["phone_region"]), required=True)
    lang = form.choice("lang", tuple(LANGUAGES))
    if not form.ok:
        return await _page(request, form, 400)
    await opened.store.sms.set_number(me.member_id, e164, lang)
    return redirect_done(request, "/account/sms", "sms-set")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/account/sms", sms_page, name="account_sms")
    router.add_post("/account/sms", sms_submit)
