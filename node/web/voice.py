"""Members' voice: the anonymous feedback box and polls (``/voice``), and what the
organisation reads of them (``/admin/voice``).

Rule: nothing a member sends here is linked to her or logged: feedback is stored with
its day only (node/store/voice.py), a vote adds to a total and leaves only a keyed tag
that stops a second vote; admins see feedback text and poll totals, never who sent or
answered. Handlers log nothing at all.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..errors import NotFound, UsageError
from ..setting_kinds import N_
from ..store.voice import FEEDBACK_TOPICS, MAX_POLL_OPTIONS
from .context import (
    client,
    host,
    need,
    redirect,
    redirect_done,
    render,
    state,
    take_notice,
    translator,
    unlocked,
)
from .forms import Form
from .ratelimit import key_of

MAX_FEEDBACK_CHARS = 2000
MAX_QUESTION_CHARS = 300
MAX_OPTION_CHARS = 120
TOPIC_LABELS = {
    "works": N_("Something that works well"),
    "missing": N_("Something that is missing"),
    "unsafe": N_("Something that felt unsafe"),
    "other": N_("Something else"),
}


def _topics(request: web.Request) -> list[tuple[str, str]]:
    t = translator(request)
    return [(k, t.gettext(TOPIC_LABELS[k])) for k in FEEDBACK_TOPICS]


async def _voice(request: web.Request, form: Form | None = None, status: int = 200) -> Any:
    me = need(request)
    polls = unlocked(request).store.polls
    open_polls = await polls.list(only_open=True)
    answered = {p.id for p in open_polls if await polls.has_voted(p.id, me.member_id)}
    return render(
        request,
        "voice.html",
        status=status,
        form=form or Form({}, translator(request)),
        topics=_topics(request),
        polls=open_polls,
        answered=answered,
        done=take_notice(request),
        max_chars=MAX_FEEDBACK_CHARS,
    )


async def voice_page(request: web.Request) -> web.Response:
    response: web.Response = await _voice(request)
    return response


def _take_feedback_budget(request: web.Request, member_id: int, now: int) -> bool:
    """Count one entry against the member's and the client's daily budgets (in memory,
    keyed hashes: nothing links an entry to either); False, counting nothing, when
    either is spent. An anonymous client has no budget of its own (clients.py)."""
    limits = state(request).limits
    per_member = key_of("feedback", str(member_id))
    per_client = client(request).key("feedback")
    if not (
        limits.feedback_member.allowed(per_member, now)
        and (per_client is None or limits.feedback_client.allowed(per_client, now))
    ):
        return False
    limits.feedback_member.hit(per_member, now)
    if per_client is not None:
        limits.feedback_client.hit(per_client, now)
    return True


async def send_feedback(request: web.Request) -> web.Response:
    me = need(request)
    t = translator(request)
    form = Form(await request.post(), t)
    topic = form.choice("topic", FEEDBACK_TOPICS)
    text = form.text("text", max_chars=MAX_FEEDBACK_CHARS, multiline=True, keep=True)
    now = host(request).clock.now()
    if form.ok and not _take_feedback_budget(request, me.member_id, now):
        form.refuse(t.gettext("You have sent a lot of feedback today. Please send more tomorrow."))
        response: web.Response = await _voice(request, form, 429)
        return response
    if form.ok:
        try:
            await unlocked(request).store.feedback.add(topic, text, now)
        except UsageError as exc:
            form.error("text", t.gettext(exc.message))
    if not form.ok:
        response = await _voice(request, form, 400)
        return response
    return redirect_done(request, "/voice", "feedback")


async def answer_poll(request: web.Request) -> web.Response:
    me = need(request)
    form = Form(await request.post(), translator(request))
    option = form.integer("option", 0, MAX_POLL_OPTIONS - 1)
    if option is None:
        response: web.Response = await _voice(request, Form({}, translator(request)), 400)
        return response
    try:
        counted = await unlocked(request).store.polls.vote(
            int(request.match_info["id"]), me.member_id, option
        )
    except NotFound:
        raise web.HTTPNotFound() from None
    return redirect_done(request, "/voice", "voted" if counted else "already")


# --- the organisation's side ---------------------------------------------------------


async def _admin(request: web.Request, form: Form | None = None, status: int = 200) -> Any:
    need(request, "admin")
    store = unlocked(request).store
    t = translator(request)
    return render(
        request,
        "admin_voice.html",
        status=status,
        form=form or Form({}, t),
        feedback=await store.feedback.list(),
        topic_label={k: t.gettext(v) for k, v in TOPIC_LABELS.items()},
        polls=await store.polls.list(),
        max_options=MAX_POLL_OPTIONS,
        done=take_notice(request),
    )


async def admin_page(request: web.Request) -> web.Response:
    response: web.Response = await _admin(request)
    return response


async def create_poll(request: web.Request) -> web.Response:
    need(request, "admin")
    t = translator(request)
    form = Form(await request.post(), t)
    question = form.text("question", max_chars=MAX_QUESTION_CHARS)
    options = [
        text
        for n in range(MAX_POLL_OPTIONS)
        if (text := form.text(f"option{n}", required=False, max_chars=MAX_OPTION_CHARS))
    ]
    if form.ok and len(options) < 2:
        form.error("option0", t.gettext(N_("Give at least two answers to choose from.")))
    if form.ok:
        try:
            await unlocked(request).store.polls.create(question, options, host(request).clock.now())
        except UsageError as exc:
            form.error("question", exc.message)
    if not form.ok:
        response: web.Response = await _admin(request, form, 400)
        return response
    return redirect_done(request, "/admin/voice", "poll")


async def poll_action(request: web.Request) -> web.Response:
    need(request, "admin")
    polls = unlocked(request).store.polls
    poll_id = int(request.match_info["id"])
    try:
        if request.match_info["action"] == "close":
            await polls.close(poll_id)
        else:
            await polls.delete(poll_id)
    except NotFound:
        raise web.HTTPNotFound() from None
    return redirect("/admin/voice")


async def delete_feedback(request: web.Request) -> web.Response:
    need(request, "admin")
    await unlocked(request).store.feedback.delete(int(request.match_info["id"]))
    return redirect("/admin/voice")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/voice", voice_page, name="voice")
    router.add_post("/voice/feedback", send_feedback)
    router.add_post(r"/voice/polls/{id:[0-9]{1,18}}", answer_poll)
    router.add_get("/admin/voice", admin_page, name="admin_voice")
    router.add_post("/admin/voice/polls", create_poll)
    router.add_post(r"/admin/voice/polls/{id:[0-9]{1,18}}/{action:close|delete}", poll_action)
    router.add_post(r"/admin/voice/feedback/{id:[0-9]{1,18}}/delete", delete_feedback)
