"""Logs hold no member data and no IP addresses (issue 7, part 6, second half).

A full web flow (sign-up, a failed and a good login, check, report, publish from the
report, retract, passphrase change, delete) and federation syncs (an honest peer and an
unreachable one) run with canary nicknames, passphrases, numbers and report text, once
in process with every logger at DEBUG, once through a real ``alertnode run`` whose
stderr is its log. Neither may contain a canary or anything shaped like an IP address,
127.0.0.1 included: the node logs no client addresses and no peer addresses (peers are
named by their short key id).
"""

from __future__ import annotations

import datetime
import json
import logging
import re
from pathlib import Path
from typing import Any

import aiohttp
import nacl.signing
import pytest

from node.app import Node
from node.store.sealed import seal_report_state, seal_verifier
from protocol.card import make_card
from tests.conftest import NodeFactory
from tests.e2e.cli import RunningNode, alertnode, alertnode_json
from tests.federation.nodes import eventually, pair
from tests.node.test_web_support import csrf_of, work_of
from tests.ports import free_port

NICK = "CanaryNick7"
PASSPHRASE = "canary passphrase forty-two"
NEW_PASSPHRASE = "canary passphrase forty-three"
PHONE = "+447700900777"
PHONE_FORMS = ("7700900777", "7700 900777", "900777")
REPORT = "CanarySentence about the blue car"
PERSON = "CanaryPerson with a scar"
CANARIES = (NICK, PASSPHRASE, NEW_PASSPHRASE, REPORT, PERSON, *PHONE_FORMS)
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
IPV6_LOOPBACK = re.compile(r"(?<![0-9A-Fa-f:])::1(?![0-9A-Fa-f:])|\[::1\]|::ffff:")
INCIDENT = (datetime.date.today() - datetime.timedelta(days=1)).isoformat()


def assert_clean(text: str, where: str) -> None:
    for canary in CANARIES:
        assert canary.casefold() not in text.casefold(), (where, canary)
    assert not IPV4.search(text), (where, IPV4.search(text))
    assert not IPV6_LOOPBACK.search(text), where


class Browser:
    """One person's browser against a node's real web port."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.base + path, allow_redirects=False) as resp:
            return resp.status, await resp.text()

    async def post(self, path: str, data: dict[str, str], page: str | None = None) -> int:
        status, html = await self.get(page or path)
        assert status == 200, (page or path, status)
        form = {"csrf": csrf_of(html), **work_of(html), **data}
        async with self.http.post(self.base + path, data=form, allow_redirects=False) as resp:
            await resp.read()
            return resp.status

    async def close(self) -> None:
        await self.http.close()


async def web_flow(base: str, member_invite: str, caseworker_invite: str) -> None:
    """Everything a member and a caseworker do, with the canaries typed in."""
    member, caseworker = Browser(base), Browser(base)
    try:
        assert (
            await member.post(
                "/signup",
                {
                    "invite": member_invite,
                    "nickname": NICK,
                    "passphrase": PASSPHRASE,
                    "passphrase2": PASSPHRASE,
                },
            )
            == 303
        )
        assert await member.post("/logout", {}, page="/check") == 303
        assert await member.post("/login", {"nickname": NICK, "passphrase": "wrong!"}) == 400
        assert await member.post("/login", {"nickname": NICK, "passphrase": PASSPHRASE}) == 303
        assert await member.post("/check", {"kind": "phone", "value": PHONE}) == 200
        report = {
            "categories": "violence",
            "incident": INCIDENT,
            "region": "GB",
            "danger": "3",
            "phone": PHONE,
            "person": PERSON,
            "text": REPORT,
            "share": "network",
        }
        assert await member.post("/report", report) == 303
        assert (
            await caseworker.post(
                "/signup",
                {
                    "invite": caseworker_invite,
                    "nickname": "caseworker1",
                    "passphrase": PASSPHRASE,
                    "passphrase2": PASSPHRASE,
                },
            )
            == 303
        )
        _, queue = await caseworker.get("/review")
        report_id = re.search(r'href="/review/(\d+)"', queue)
        assert report_id, queue
        editor = f"/review/{report_id.group(1)}"
        published = {
            "categories": "violence",
            "danger": "3",
            "region": "GB",
            "incident": INCIDENT,
            "description": "Refused to pay; became violent.",
            "phone": PHONE,
            "lang": "en",
            "hops": "2",
            "tlp": "GREEN",
            "expires_days": "30",
            "action": "publish",
        }
        assert await caseworker.post(editor, published) == 303
        assert await member.post("/check", {"kind": "phone", "value": PHONE}) == 200
        _, page = await caseworker.get("/published")
        alert_id = re.search(r'action="/published/([0-9a-f]{64})/retract"', page)
        assert alert_id, page
        retract = f"/published/{alert_id.group(1)}/retract"
        assert (
            await caseworker.post(
                retract, {"reason": "mistaken", "confirm": "yes"}, page="/published"
            )
            == 303
        )
        change = {"current": PASSPHRASE, "new": NEW_PASSPHRASE, "new2": NEW_PASSPHRASE}
        assert await member.post("/account/passphrase", change, page="/account") == 303
        delete = {"confirm": "yes", "passphrase": NEW_PASSPHRASE}
        assert (
            await member.post("/account/delete", delete, page="/account") == 200
        )  # the answer to the POST says it is done
        assert await member.post("/login", {"nickname": NICK, "passphrase": PASSPHRASE}) == 400
    finally:
        await member.close()
        await caseworker.close()


async def _invites(node: Node) -> tuple[str, str]:
    store = node.unlocked().store
    now = node.clock.now()
    member = await store.members.create_invite("member", now + 86400, now)
    caseworker = await store.members.create_invite("caseworker", now + 86400, now)
    return str(member), str(caseworker)


async def test_in_process_logs_at_debug_hold_no_member_data_or_addresses(
    make_node: NodeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: every logger, every level
    a = await make_node("A")
    b = await make_node("B")
    await pair(a, b)
    # A peer that never answers: its failures are logged, its address must not be.
    dead = make_card(
        nacl.signing.SigningKey(b"\x33" * 32),
        "Dead",
        ("https://127.0.0.1:9",),
        (b"\x01" * 32,),
        a.clock.now(),
    ).to_text()
    await a.unlocked().trust.add_peer(dead, "relay", True, None)
    assert a.web_url
    await web_flow(a.web_url, *await _invites(a))
    await a.unlocked().trust.sync_now()
    await b.unlocked().trust.sync_now()

    async def b_has_the_retraction() -> bool:
        return (await b.unlocked().store.alerts.counts(b.clock.now()))["retractions"] == 1

    await eventually(b_has_the_retraction)
    records = caplog.records
    assert any(r.name.startswith("node") for r in records)  # the log was captured
    assert any("failed" in r.getMessage() for r in records)  # the dead peer's error too
    for record in records:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        assert_clean(text, f"{record.name}:{record.levelname}")


# The first member and report numbers the web flow below will get: long enough that
# finding one in a log line cannot be chance.
FIRST_MEMBER = 73_401
FIRST_REPORT = 58_201
ID_WINDOW_CHARS = 8


async def _plant_high_numbers(node: Node) -> None:
    """A member and a report numbered just below FIRST_MEMBER and FIRST_REPORT (SQLite
    numbers the next rows after them); the report is declined, so it is in no queue."""
    store = node.unlocked().store
    crypto = store.crypto
    member, report = FIRST_MEMBER - 1, FIRST_REPORT - 1
    async with store.db.transaction() as conn:
        await conn.execute(
            "INSERT INTO members (id, nick_tag, nick_enc, pass_enc, role, created)"
            " VALUES (?, ?, ?, ?, 'member', 0)",
            (
                member,
                crypto.tag("nickname", b"planted"),
                crypto.seal("members", "nick", member, b"planted"),
                seal_verifier(crypto, member, "$argon2id$planted"),
            ),
        )
        await conn.execute(
            "INSERT INTO reports (id, member_id, created, state_enc, body_enc)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                report,
                member,
                node.clock.now(),  # not so old that the retention job purges it
                seal_report_state(crypto, report, "declined", None),
                crypto.seal("reports", "body", report, b"{}"),
            ),
        )


async def test_info_logs_over_a_member_life_hold_no_member_report_or_alert_numbers(
    make_node: NodeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 12, item 9: "member 2 signed up" and "published alert 2c48..." outlive a
    # wipe in the system journal. At INFO no log line may name a member number, a
    # report number or an alert (or retraction) id, in whole or in part.
    caplog.set_level(logging.INFO)
    node = await make_node("A")
    assert node.web_url
    await _plant_high_numbers(node)
    await web_flow(node.web_url, *await _invites(node))
    store = node.unlocked().store
    now = node.clock.now()
    admin = Browser(node.web_url)
    try:
        invite = await store.members.create_invite("admin", now + 86400, now)
        signup = {"invite": invite, "nickname": "admin1", "passphrase": PASSPHRASE}
        assert await admin.post("/signup", {**signup, "passphrase2": PASSPHRASE}) == 303
        report = {
            "categories": "violence", "incident": INCIDENT, "region": "GB", "danger": "1",
            "person": "", "text": "declined later", "share": "no",
        }  # fmt: skip
        assert await admin.post("/report", report) == 303
        _, queue = await admin.get("/review")
        # The member's report went with her account, so SQLite numbers this one the same.
        assert re.findall(r'href="/review/(\d+)"', queue) == [str(FIRST_REPORT)]
        page = f"/review/{FIRST_REPORT}"
        assert await admin.post(page + "/decline", {}, page=page) == 303
        caseworker = f"/admin/members/{FIRST_MEMBER + 1}/revoke"
        assert await admin.post(caseworker, {"confirm": "yes"}, page="/admin/members") == 303
    finally:
        await admin.close()
    # The numbers and ids this life really had (so that the test can fail).
    assert {m.id for m in await store.members.list()} == {FIRST_MEMBER - 1, FIRST_MEMBER + 2}
    declined = await store.reports.get(FIRST_REPORT)
    assert declined.status == "declined" and declined.member_id == FIRST_MEMBER + 2
    numbers = [
        str(n) for n in (*range(FIRST_MEMBER, FIRST_MEMBER + 3), FIRST_REPORT, FIRST_REPORT + 1)
    ]
    ids = [
        r[0].hex()
        for r in await store.db.fetchall("SELECT id FROM log UNION SELECT id FROM alerts")
    ]
    assert len(ids) == 2  # the alert (a tombstone now) and its retraction
    windows = {i[n : n + ID_WINDOW_CHARS] for i in ids for n in range(len(i) - ID_WINDOW_CHARS + 1)}
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert "node unlocked" in messages  # the log was captured
    for text in messages:
        assert not [n for n in numbers if n in text], text
        assert not [w for w in windows if w in text.casefold()], text
    assert "published an alert" in messages and "retracted an alert" in messages


@pytest.mark.slow
async def test_alertnode_run_stderr_holds_no_member_data_or_addresses(short_tmp: Path) -> None:
    data, peer_data = short_tmp / "n", short_tmp / "p"
    web = f"127.0.0.1:{free_port()}"
    init = alertnode_json(
        "init", "--data", str(data), "--name", "Logged", "--no-passphrase", "--region", "GB",
        "--web", web, "--fed", f"127.0.0.1:{free_port()}",
    )  # fmt: skip
    alertnode(
        "init", "--data", str(peer_data), "--name", "Peer", "--no-passphrase", "--region", "GB",
        "--web", f"127.0.0.1:{free_port()}", "--fed", f"127.0.0.1:{free_port()}",
    )  # fmt: skip
    node, peer = RunningNode(data), RunningNode(peer_data)
    try:
        card = json.loads(alertnode("card", "--data", str(data), "--json").stdout)["card"]
        peer_card = json.loads(alertnode("card", "--data", str(peer_data), "--json").stdout)["card"]
        alertnode("peer", "add", "--data", str(data), peer_card)
        alertnode("peer", "add", "--data", str(peer_data), card)
        invite = alertnode_json("invite", "create", "--data", str(data), "--role", "caseworker")
        await web_flow(f"http://{web}/", init["invite"], invite["code"])
        alertnode("sync", "--data", str(data))
        result: dict[str, Any] = alertnode_json("sync", "--data", str(peer_data))
        assert result["errors"] == 0
        alertnode("check", "--data", str(data), "--phone", PHONE)
    finally:
        log = node.stop()
        peer_log = peer.stop()
    assert "node unlocked" in log  # the log is really on stderr
    assert_clean(log, "alertnode run stderr")
    assert_clean(peer_log, "peer's alertnode run stderr")
