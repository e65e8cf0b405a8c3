"""The SMS check (issue 15, point 2) through the web port's webhooks: good and bad
signatures in the generic format and in SMS Gateway for Android's, replays and stale
timestamps refused, unknown senders told nothing about alerts, the per-sender limit,
answers in the member's language, and the member's opt-in page."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

import pytest

from node.commands.partners import COMMANDS, _gateway
from node.commands.table import parse_args
from node.service import Draft
from node.web.i18n import Translator
from node.web.ratelimit import SMS_PER_SENDER_PER_HOUR
from node.web.sms_desk import HISTORY, NOT_RECOGNISED, parse_command
from node.web.sms_hooks import SENDER_KEY, SMS_REPLAY_WINDOW_S, twilio_signature
from tests.node.test_web_support import PASSPHRASE, Site, Visitor, site_fixture  # noqa: F401

ROWS = {c.name: c for c in COMMANDS}
MEMBER_PHONE = "07700 900001"
MEMBER_E164 = "+447700900001"
BAD_CLIENT = "+447700900123"
SECRET = "a-generic-gateway-secret-0123456789"


class RecordingSender:
    """A fake SmsSender: what would have been sent, through which channel."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def factory(self, channel: str) -> Any:
        outer = self

        class One:
            async def send(self, to: str, text: str) -> None:
                outer.sent.append((channel, to, text))

        return One()


async def set_gateway(site: Site, kind: str, channel: str = "") -> str:
    args = parse_args(ROWS["sms.gateway"], {"kind": kind, "reply_channel": channel})
    result = await _gateway(site.node, args)  # type: ignore[arg-type]
    return str(result["secret"])


def generic_headers(secret: str, ts: int, body: bytes) -> dict[str, str]:
    mac = hmac.new(secret.encode(), str(ts).encode() + b"." + body, hashlib.sha256).hexdigest()
    return {
        "X-Alertnode-Timestamp": str(ts),
        "X-Alertnode-Signature": "v1=" + mac,
        "Content-Type": "application/json",
    }


async def post(v: Visitor, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    async with v.client.post(path, data=body, headers=headers) as resp:
        text = await resp.text()
        return resp.status, json.loads(text) if resp.content_type == "application/json" else text


async def opt_in(site: Site, nickname: str, lang: str = "en") -> Visitor:
    member = await site.member(nickname)
    status, html, _ = await member.post(
        "/account/sms", {"action": "set", "phone": MEMBER_PHONE, "lang": lang}
    )
    assert status == 303, html
    return member


async def test_generic_webhook_answers_a_member_and_refuses_bad_signatures(site: Site) -> None:
    node = site.node
    await node.unlocked().alerts.publish(
        Draft(["violence"], 3, "GB", [("phone", "+447700900123")], description="words")
    )
    secret = await set_gateway(site, "generic")
    await opt_in(site, "texter")
    v = await site.visitor()
    now = node.clock.now()
    body = json.dumps({"from": MEMBER_PHONE, "text": "check 07700 900123"}).encode()
    status, answer = await post(v, "/sms/v1/inbound", body, generic_headers(secret, now, body))
    assert status == 200, answer
    assert answer["reply"]["to"] == MEMBER_E164
    text = answer["reply"]["text"]
    assert "1 alert(s) from 1 organisation(s); highest danger: dangerous." in text
    assert HISTORY in text and "words" not in text
    # The same call again is a replay.
    status, answer = await post(v, "/sms/v1/inbound", body, generic_headers(secret, now, body))
    assert (status, answer["error"]["code"]) == (401, "stale_or_replayed")
    # A wrong key, a changed body, a stale timestamp.
    wrong = generic_headers("another-secret-entirely-000000", now + 1, body)
    assert (await post(v, "/sms/v1/inbound", body, wrong))[0] == 401
    changed = body.replace(b"900123", b"900124")
    assert (await post(v, "/sms/v1/inbound", changed, generic_headers(secret, now + 2, body)))[
        0
    ] == 401
    old = now - SMS_REPLAY_WINDOW_S - 1
    status, answer = await post(v, "/sms/v1/inbound", body, generic_headers(secret, old, body))
    assert (status, answer["error"]["code"]) == (401, "stale_or_replayed")
    unsigned = {"Content-Type": "application/json"}
    assert (await post(v, "/sms/v1/inbound", body, unsigned))[0] == 401


async def test_unknown_sender_learns_nothing_and_senders_are_limited(site: Site) -> None:
    node = site.node
    await node.unlocked().alerts.publish(Draft(["violence"], 3, "GB", [("phone", "+447700900123")]))
    secret = await set_gateway(site, "generic")
    v = await site.visitor()
    now = node.clock.now()
    replies = []
    for n, asked in enumerate(("CHECK 07700 900123", "CHECK 07700 900999")):
        body = json.dumps({"from": "07700 900777", "text": asked}).encode()
        status, answer = await post(
            v, "/sms/v1/inbound", body, generic_headers(secret, now + n, body)
        )
        assert status == 200
        replies.append(answer["reply"]["text"])
    # A match and no match get the same neutral words.
    assert replies == [NOT_RECOGNISED, NOT_RECOGNISED]
    for n in range(SMS_PER_SENDER_PER_HOUR - 2):
        body = json.dumps({"from": "07700 900777", "text": f"hi {n}"}).encode()
        headers = generic_headers(secret, now + 10 + n, body)
        assert (await post(v, "/sms/v1/inbound", body, headers))[1]["reply"] is not None
    body = json.dumps({"from": "07700 900777", "text": "CHECK 07700 900123"}).encode()
    status, answer = await post(v, "/sms/v1/inbound", body, generic_headers(secret, now + 99, body))
    assert (status, answer) == (200, {"reply": None})


async def test_android_gateway_signature_and_reply_in_members_language(site: Site) -> None:
    node = site.node
    await node.unlocked().alerts.publish(Draft(["violence"], 2, "GB", [("phone", "+447700900123")]))
    sender = RecordingSender()
    site.server.app[SENDER_KEY].sender = sender.factory
    await set_gateway(site, "android", channel="org-phone")
    key = "key-from-the-app-0123456789"
    await site.store.sms.set_gateway("android", key, "org-phone")  # as --secret-file gives it
    await opt_in(site, "francophone", lang="fr")
    v = await site.visitor()
    now = node.clock.now()
    event = {
        "deviceId": "ffffffffceb0b1db0000018e937c815b",
        "event": "sms:received",
        "id": "Ey6ECgOkVVFjz3CL48B8C",
        "payload": {
            "messageId": "abc123",
            "message": "VÉRIFIER 07700 900123",
            "phoneNumber": MEMBER_E164,
            "simNumber": 1,
            "receivedAt": "2024-06-22T15:46:11.000+07:00",
        },
        "webhookId": "LreFUt-Z3sSq0JufY9uWB",
    }
    body = json.dumps(event).encode()
    signature = hmac.new(key.encode(), body + str(now).encode(), hashlib.sha256).hexdigest()
    headers = {
        "X-Timestamp": str(now),
        "X-Signature": signature,
        "Content-Type": "application/json",
    }
    assert (await post(v, "/sms/v1/android", body, headers))[0] == 200
    ((channel, to, text),) = sender.sent
    assert (channel, to) == ("org-phone", MEMBER_E164)
    # The danger in words in her language (the rest of the sentence is translated once
    # the catalogues have it; they are extracted after the merge).
    french = Translator("fr").danger(2)
    assert french != "risky" and french in text
    # Replayed, and badly signed: refused, nothing more sent.
    assert (await post(v, "/sms/v1/android", body, headers))[0] == 401
    bad = {**headers, "X-Signature": "0" * 64, "X-Timestamp": str(now + 1)}
    assert (await post(v, "/sms/v1/android", body, bad))[0] == 401
    assert len(sender.sent) == 1


async def test_unconfigured_gateway_is_an_unknown_path(site: Site) -> None:
    v = await site.visitor()
    status, _ = await post(v, "/sms/v1/inbound", b"{}", {"Content-Type": "application/json"})
    assert status == 404


async def test_member_removes_her_number(site: Site) -> None:
    member = await opt_in(site, "leaver")
    status, html, _ = await member.get("/account/sms")
    assert "ending in 01" in html and MEMBER_PHONE not in html and MEMBER_E164 not in html
    assert await site.store.sms.member(MEMBER_E164) is not None
    status, _, _ = await member.post("/account/sms", {"action": "remove"})
    assert status == 303
    assert await site.store.sms.member(MEMBER_E164) is None


def test_command_words() -> None:
    assert parse_command("check 07700 900123").value == "07700 900123"
    assert parse_command("Vérifier: a@b.example").kind == "check"
    assert parse_command("ПРОВЕРИТЬ +447700900123").kind == "check"
    assert parse_command("hello").kind == "help"


async def test_unknown_senders_together_are_capped(site: Site) -> None:
    secret = await set_gateway(site, "generic")
    site.state.limits.sms_unknown.limit = 3
    v = await site.visitor()
    now = site.node.clock.now()
    answers = []
    for n in range(5):
        body = json.dumps({"from": f"07700 9002{n:02d}", "text": "CHECK 07700 900123"}).encode()
        status, answer = await post(
            v, "/sms/v1/inbound", body, generic_headers(secret, now + n, body)
        )
        assert status == 200
        answers.append(answer["reply"] is not None)
    assert answers == [True, True, True, False, False]


async def test_deleting_the_account_removes_the_number(site: Site) -> None:
    member = await opt_in(site, "goner")
    assert await site.store.sms.member(MEMBER_E164) is not None
    status, _, _ = await member.post(
        "/account/delete", {"passphrase": PASSPHRASE, "confirm": "yes"}, page="/account"
    )
    assert status == 200
    assert await site.store.sms.member(MEMBER_E164) is None
    rows = await site.store.db.fetchall("SELECT count(*) FROM sms_numbers")
    assert rows[0][0] == 0


async def test_notify_sender_goes_through_the_outbox(monkeypatch: pytest.MonkeyPatch) -> None:
    """The adapter to n1's ``node.notify.outbox.send_direct``, with a recording
    stand-in for that module (the same test holds before and after it exists)."""
    import sys
    import types

    from node.web.sms_desk import NotifySender, SmsError

    calls: list[tuple[object, str, str, str]] = []

    class NotifyError(Exception):
        pass

    async def send_direct(node: object, channel: str, to: str, text: str) -> None:
        if channel == "broken":
            raise NotifyError("down")
        calls.append((node, channel, to, text))

    fake = types.ModuleType("node.notify.outbox")
    fake.send_direct = send_direct  # type: ignore[attr-defined]
    fake.NotifyError = NotifyError  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "node.notify.outbox", fake)
    node = object()
    await NotifySender(node, "org-phone").send("+447700900001", "hello")
    assert calls == [(node, "org-phone", "+447700900001", "hello")]
    with pytest.raises(SmsError):
        await NotifySender(node, "broken").send("+447700900001", "hello")


def test_twilio_signature_matches_a_published_vector() -> None:
    # The example of Twilio's request validation as published in client libraries:
    # URL with its query, five POST fields, auth token "12345".
    params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ]
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature(b"12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


async def test_twilio_webhook_answers_in_twiml_and_refuses_forgeries(site: Site) -> None:
    node = site.node
    await node.unlocked().alerts.publish(
        Draft(["violence"], 3, "GB", [("phone", "+447700900123")], description="words")
    )
    token = "twilio-auth-token-0123456789"
    url = "https://node.example/sms/v1/twilio"
    await site.store.sms.set_gateway("twilio", token, "", url)
    await opt_in(site, "texter")
    v = await site.visitor()
    params = [
        ("AccountSid", "AC0000"),
        ("Body", "CHECK 07700 900123"),
        ("From", MEMBER_E164),
        ("MessageSid", "SM0001"),
        ("To", "+447700900999"),
    ]
    body = urlencode(params).encode()
    headers = {
        "X-Twilio-Signature": twilio_signature(token.encode(), url, params),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    async with v.client.post("/sms/v1/twilio", data=body, headers=headers) as resp:
        assert resp.status == 200
        assert resp.content_type == "text/xml"
        xml = await resp.text()
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?><Response><Message>')
    assert "highest danger: dangerous." in xml and "words" not in xml
    async with v.client.post("/sms/v1/twilio", data=body, headers=headers) as resp:
        assert resp.status == 401  # the same MessageSid again
    forged = [(k, "+447700900555" if k == "From" else v2) for k, v2 in params]
    forged = [(k, "SM0002" if k == "MessageSid" else v2) for k, v2 in forged]
    async with v.client.post(
        "/sms/v1/twilio", data=urlencode(forged).encode(), headers=headers
    ) as resp:
        assert resp.status == 401
    other_url = twilio_signature(token.encode(), "https://evil.example/sms/v1/twilio", params)
    async with v.client.post(
        "/sms/v1/twilio", data=body, headers={**headers, "X-Twilio-Signature": other_url}
    ) as resp:
        assert resp.status == 401
