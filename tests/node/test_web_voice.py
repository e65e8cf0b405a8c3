"""Members' voice (issue 16.2): anonymous feedback (no member link, the day only,
nothing logged) and polls answered once, with totals only for the organisation."""

from __future__ import annotations

import logging
import re

import pytest

from node.store.sealed import coarsen_day
from tests.node.test_web_support import Site, site_fixture  # noqa: F401

SECRET_WORDS = "the night bus stop felt unsafe canary-7731"


async def test_feedback_is_kept_without_a_member_and_logged_nowhere(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="node")
    member = await site.member("mira")
    status, html, _ = await member.get("/voice")
    assert status == 200 and "Tell us what you think" in html
    status, html, resp = await member.post(
        "/voice/feedback", {"topic": "unsafe", "text": SECRET_WORDS}, page="/voice"
    )
    assert status == 303 and resp.headers["Location"].startswith("/voice"), html
    rows = await site.store.db.fetchall("SELECT * FROM feedback")
    [row] = rows
    assert len(row) == 3  # id, day, sealed body: no member column
    assert row[1] == coarsen_day(site.node.clock.now())
    assert SECRET_WORDS.encode() not in row[2]  # sealed
    ours = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("node"))
    assert SECRET_WORDS not in ours and "feedback" not in ours.lower()
    admin = await site.member("boss", "admin")
    status, html, _ = await admin.get("/admin/voice")
    assert status == 200 and SECRET_WORDS in html and "Something that felt unsafe" in html
    assert "mira" not in html
    entry_id = re.search(r"/admin/voice/feedback/(\d+)/delete", html).group(1)  # type: ignore[union-attr]
    status, _, _ = await admin.post(
        f"/admin/voice/feedback/{entry_id}/delete", {}, page="/admin/voice"
    )
    assert status in (302, 303)
    assert await site.store.feedback.list() == []
    status, _, _ = await member.get("/admin/voice")
    assert status in (302, 303, 403)


async def test_a_poll_is_answered_once_and_read_as_totals(site: Site) -> None:
    admin = await site.member("boss", "admin")
    status, html, _ = await admin.post(
        "/admin/voice/polls",
        {
            "question": "Should we open on Sundays?",
            "option0": "Yes",
            "option1": "No",
            "option2": "",
        },
        page="/admin/voice",
    )
    assert status == 303, html
    [poll] = await site.store.polls.list()
    alice, bea = await site.member("alice"), await site.member("bea")
    status, html, _ = await alice.get("/voice")
    assert "Should we open on Sundays?" in html
    for voter, option in ((alice, "0"), (bea, "1")):
        status, _, resp = await voter.post(
            f"/voice/polls/{poll.id}", {"option": option}, page="/voice"
        )
        assert status == 303 and resp.headers["Location"].startswith("/voice")
    # A second answer from alice, even for another option, changes nothing.
    status, _, _ = await alice.post(f"/voice/polls/{poll.id}", {"option": "1"}, page="/voice")
    assert status == 303
    status, html, _ = await alice.get("/voice")
    assert "your first answer counts" in html and "You have answered this question." in html
    [poll] = await site.store.polls.list()
    assert poll.totals == (1, 1)
    # What is stored about the voters: keyed tags only, no member id, no option.
    tags = await site.store.db.fetchall("SELECT * FROM poll_voters")
    assert len(tags) == 2 and all(len(t) == 2 and len(t[1]) >= 16 for t in tags)
    ids = {str(m.id).encode() for m in await site.store.members.list()}
    assert not any(t[1] in ids for t in tags)
    status, html, _ = await admin.get("/admin/voice")
    assert "Yes: <strong>1</strong>" in html and "No: <strong>1</strong>" in html
    assert "alice" not in html and "bea" not in html
    # Closing keeps the totals and forgets who answered; no more answers.
    status, _, _ = await admin.post(f"/admin/voice/polls/{poll.id}/close", {}, page="/admin/voice")
    assert status in (302, 303)
    assert await site.store.db.fetchall("SELECT * FROM poll_voters") == []
    carol = await site.member("carol")
    status, _, _ = await carol.post(f"/voice/polls/{poll.id}", {"option": "0"}, page="/voice")
    assert status == 404
    assert (await site.store.polls.list())[0].totals == (1, 1)


async def test_a_poll_needs_two_answers_and_members_cannot_ask(site: Site) -> None:
    admin = await site.member("boss", "admin")
    status, html, _ = await admin.post(
        "/admin/voice/polls", {"question": "One answer?", "option0": "Only"}, page="/admin/voice"
    )
    assert status == 400 and "at least two answers" in html
    member = await site.member("mira")
    status, _, _ = await member.post(
        "/admin/voice/polls", {"question": "Q", "option0": "a", "option1": "b"}, page="/voice"
    )
    assert status in (302, 303, 403)
    assert await site.store.polls.list() == []


async def test_one_member_cannot_crowd_out_the_feedback_box(site: Site) -> None:
    """Brief O2: the box had no per-member or per-client limit, only a cap of 2,000
    entries that one person could fill."""
    from node.web.ratelimit import FEEDBACK_PER_CLIENT_PER_DAY, FEEDBACK_PER_MEMBER_PER_DAY

    mira, zoe = await site.member("mira"), await site.member("zoe")
    entry = {"topic": "other", "text": "more buses at night"}
    for _ in range(FEEDBACK_PER_MEMBER_PER_DAY):
        status, html, _ = await mira.post("/voice/feedback", entry, page="/voice")
        assert status == 303, html
    status, html, _ = await mira.post("/voice/feedback", entry, page="/voice")
    assert status == 429 and "a lot of feedback today" in html
    assert len(await site.store.feedback.list()) == FEEDBACK_PER_MEMBER_PER_DAY
    # Another member is not held back by her.
    status, _, _ = await zoe.post("/voice/feedback", entry, page="/voice")
    assert status == 303
    # One client (address) with many accounts is held to its own budget (both members
    # here come from 127.0.0.1: six entries so far).
    limits = site.state.limits
    assert limits.feedback_client.limit == FEEDBACK_PER_CLIENT_PER_DAY
    limits.feedback_client.limit = 8
    assert (await zoe.post("/voice/feedback", entry, page="/voice"))[0] == 303
    assert (await zoe.post("/voice/feedback", entry, page="/voice"))[0] == 303
    status, html, _ = await zoe.post("/voice/feedback", entry, page="/voice")
    assert status == 429
    assert len(await site.store.feedback.list()) == 8


async def test_the_box_takes_a_share_a_day_so_a_flood_leaves_room_tomorrow(site: Site) -> None:
    from node.errors import UsageError
    from node.store.voice import FULL_TODAY, MAX_FEEDBACK_PER_DAY

    feedback, clock = site.store.feedback, site.node.clock
    for _ in range(MAX_FEEDBACK_PER_DAY):
        await feedback.add("other", "flood", clock.now())
    with pytest.raises(UsageError) as refused:
        await feedback.add("other", "mine", clock.now())
    assert refused.value.message == FULL_TODAY
    member = await site.member("mira")
    status, html, _ = await member.post(
        "/voice/feedback", {"topic": "works", "text": "mine"}, page="/voice"
    )
    assert status == 400 and "takes no more today" in html
    clock.advance(86400)
    await feedback.add("works", "mine", clock.now())
    assert len(await feedback.list()) == MAX_FEEDBACK_PER_DAY + 1
