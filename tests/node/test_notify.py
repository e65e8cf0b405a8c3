"""Notifications (issue 15, point 1): the channel table, the sealed store, the outbox's
retries on fake time, and a slow service that delays nothing.

Messages go to a local aiohttp endpoint through apprise's json:// service, which
receives exactly what the service would; e-mail through a real SMTP server is in
test_notify_mail.py.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from federation.clock import FakeClock
from node.app import Node
from node.commands.channels import COMMANDS
from node.commands.table import parse_args
from node.errors import NotFound
from node.notify import channels
from node.notify.errors import NotifyError
from node.notify.outbox import (
    FIRST_RETRY_S,
    MAX_ATTEMPTS,
    Notifier,
    backoff_s,
    next_digest_at,
    send_direct,
)
from node.store.db import DB_FILE
from node.store.members import hash_passphrase
from tests.conftest import NodeFactory
from tests.federation.nodes import draft, eventually

SECRET_TOKEN = "s3cr3t-channel-token-7781"
ADDRESS = "her-address-5521@example.net"
NOTICE = "Something new for you; open the site."


async def run(node: Node, command_name: str, **raw: Any) -> dict[str, Any]:
    """Run a channel command's row as the control socket does."""
    command = next(c for c in COMMANDS if c.name == command_name)
    assert command.handler is not None
    return await command.handler(node, parse_args(command, raw))


async def member(node: Node, nick: str = "SubNick") -> int:
    store, now = node.unlocked().store, node.clock.now()
    code = await store.members.create_invite("member", now + 3600, now)
    return (await store.members.redeem_invite(code, nick, hash_passphrase("x" * 12), now)).id


def prefs(**kw: Any) -> dict[str, Any]:
    base = {
        "address": ADDRESS,
        "regions": [],
        "min_danger": 1,
        "digest": False,
        "lang": "en",
        "content": False,
    }
    base.update(kw)
    return base


class Endpoint:
    """A local HTTP endpoint that records what apprise's json:// posts, and can fail."""

    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []
        self.fail = 0  # answer 500 this many times

    async def handle(self, request: web.Request) -> web.Response:
        if self.fail:
            self.fail -= 1
            return web.Response(status=500)
        self.got.append(json.loads(await request.read()))
        return web.json_response({})


@pytest.fixture(name="endpoint")
async def endpoint_fixture() -> AsyncIterator[tuple[Endpoint, str]]:
    ep = Endpoint()
    app = web.Application()
    app.router.add_post("/hook", ep.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield ep, f"json://127.0.0.1:{server.port}/hook?+X-Token={SECRET_TOKEN}"
    finally:
        await server.close()


# --- the recipient table ------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "address", "joined"),
    [
        (
            "mailtos://u:p@mail.example.org?from=n@example.org",
            "her@example.net",
            "mailtos://u:p@mail.example.org?from=n%40example.org&to=her%40example.net",
        ),
        # The admin's own recipient is replaced, never sent to as well.
        ("mailto://mail.example.org?to=admin@example.org", "a@b.c", "mailto://mail.example.org?to=a%40b.c"),
        ("ntfys://ntfy.example.org/", "topic-x", "ntfys://ntfy.example.org/topic-x"),
        ("ntfy://ntfy.example.org", "t", "ntfy://ntfy.example.org/t"),
        ("matrixs://u:p@m.example.org", "#room:m.example.org", "matrixs://u:p@m.example.org/%23room:m.example.org"),
        ("signal://127.0.0.1:8080/+447700900001", "+447700900123", "signal://127.0.0.1:8080/+447700900001/+447700900123"),
        ("tgram://123:abc", "99887766", "tgram://123:abc/99887766"),
        ("httpsms://key@+447700900001", "+447700900123", "httpsms://key@+447700900001/+447700900123"),
        ("json://127.0.0.1:9/hook", "x@y", "json://127.0.0.1:9/hook?%3Ato=x%40y"),
    ],
)  # fmt: skip
def test_each_kind_joins_the_recipient_as_the_table_says(
    url: str, address: str, joined: str
) -> None:
    assert channels.join_recipient(url, address) == joined


@pytest.mark.parametrize(
    ("url", "code"),
    [("", "bad_url"), ("no-scheme", "bad_url"), ("slack://a/b/c", "unsupported")],
)
def test_urls_this_node_cannot_address_are_refused(url: str, code: str) -> None:
    with pytest.raises(NotifyError) as caught:
        channels.kind_of(url)
    assert caught.value.code == code


@pytest.mark.parametrize("address", ["", " ", "a b", "a\nb", "x" * 400])
def test_bad_addresses_are_refused(address: str) -> None:
    with pytest.raises(NotifyError) as caught:
        channels.join_recipient("ntfy://n.example.org", address)
    assert caught.value.code == "bad_address"


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    rng = random.Random(7)
    waits = [backoff_s(n, rng) for n in range(1, 20)]
    assert FIRST_RETRY_S / 2 <= waits[0] <= FIRST_RETRY_S
    assert waits[3] >= FIRST_RETRY_S * 4
    assert max(waits) <= 6 * 3600
    assert next_digest_at(0) == 17 * 3600 and next_digest_at(17 * 3600) == 86400 + 17 * 3600


# --- the node: channels, subscriptions, delivery ---------------------------------------


async def test_channel_url_never_listed_nor_stored_in_clear(
    make_node: NodeFactory, endpoint: tuple[Endpoint, str]
) -> None:
    ep, url = endpoint
    node = await make_node()
    added = await run(node, "channel.add", name="hook", url=url)
    assert added == {"name": "hook", "kind": "json"}
    listed = await run(node, "channel.list")
    assert [c["name"] for c in listed["channels"]] == ["hook"]
    assert listed["channels"][0]["state"] == "ok"
    status = await node.status()
    for answer in (added, listed, status):
        assert SECRET_TOKEN not in json.dumps(answer)
    sub = await node.unlocked().store.notify.subscribe(await member(node), "hook", prefs())
    await run(node, "channel.test", name="hook", to=ADDRESS)
    assert ep.got[0]["to"] == ADDRESS
    await node.unlocked().store.notify.enqueue([("hook", sub, {"to": ADDRESS, "body": "b"})], 0)
    await node.stop()
    raw = b"".join(p.read_bytes() for p in node.data_dir.glob(DB_FILE + "*"))
    assert raw, "the scan read nothing"
    for secret in (SECRET_TOKEN, ADDRESS, "127.0.0.1"):
        assert secret.encode() not in raw, secret
    # Positive control: the scanner finds a channel name, which is kept in clear.
    assert b"hook" in raw


async def test_apprise_is_loaded_on_the_loop_before_the_first_message_not_at_unlock(
    make_node: NodeFactory, endpoint: tuple[Endpoint, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # With its plugins it costs 0.5 s and 27 MB: a node that sends nothing never pays.
    # Loaded once, on the event loop's thread, before any delivery thread touches it.
    calls: list[bool] = []
    real = channels.load_apprise

    def counted() -> Any:
        calls.append(threading.current_thread() is threading.main_thread())
        return real()

    monkeypatch.setattr(channels, "load_apprise", counted)
    ep, url = endpoint
    node = await make_node()
    await run(node, "channel.add", name="hook", url=url)
    await run(node, "channel.list")
    assert calls == []
    await run(node, "channel.test", name="hook", to=ADDRESS)
    await run(node, "channel.test", name="hook", to=ADDRESS)
    assert len(ep.got) == 2
    assert calls[0] is True and calls.count(True) == 1, calls


async def test_an_alert_published_here_reaches_a_subscriber_content_free(
    make_node: NodeFactory, endpoint: tuple[Endpoint, str]
) -> None:
    ep, url = endpoint
    node = await make_node()
    await run(node, "channel.add", name="hook", url=url)
    notify = node.unlocked().store.notify
    her = await member(node)
    sub = await notify.subscribe(her, "hook", prefs(min_danger=2))
    alerts = node.unlocked().alerts
    await alerts.publish(draft(1, phone="07700 900123", danger=1))  # below her minimum
    await alerts.publish(draft(2, phone="07700 900123", description="tall man, red car"))
    await eventually(lambda: _count(ep, 1))
    (got,) = ep.got
    assert got["message"] == NOTICE and got["title"] == "Community notes"
    assert "red car" not in json.dumps(got)

    # She opts in: the structured parts and the description, never the indicator.
    await notify.update_subscription(her, sub, prefs(content=True))
    await alerts.publish(draft(3, phone="07700 900123", description="tall man, red car"))
    await eventually(lambda: _count(ep, 2))
    text = ep.got[1]["message"]
    assert "dangerous" in text and "Violence" in text and "red car" in text
    assert "900123" not in json.dumps(ep.got[1])

    # In French, the structured parts are hers; a TLP:RED alert stays content-free.
    await notify.update_subscription(her, sub, prefs(content=True, lang="fr"))
    await alerts.publish(draft(4, description="x"))
    await alerts.publish(draft(5, description="secret red", tlp="RED", hops=0))
    await eventually(lambda: _count(ep, 4))
    assert "Violence" in ep.got[2]["message"] and "dangereux" in ep.got[2]["message"]
    assert "secret red" not in ep.got[3]["message"]

    # Removing the subscription stops everything at once.
    await notify.unsubscribe(her, sub)
    await alerts.publish(draft(6))
    await asyncio.sleep(0.3)
    assert len(ep.got) == 4
    with pytest.raises(NotFound):
        await notify.unsubscribe(her, sub)


async def _count(ep: Endpoint, n: int) -> bool:
    return len(ep.got) >= n


async def test_a_failing_service_is_retried_with_backoff_on_fake_time(
    make_node: NodeFactory, endpoint: tuple[Endpoint, str]
) -> None:
    ep, url = endpoint
    node = await make_node()
    await run(node, "channel.add", name="hook", url=url)
    store = node.unlocked().store
    clock = FakeClock()
    # A notifier of its own, driven step by step on fake time (the node's is idle:
    # nothing it routes is queued here).
    notifier = Notifier(
        store.notify, store.alerts, clock, lambda: node.unlocked().texts, rng=random.Random(1)
    )
    try:
        sub = await store.notify.subscribe(await member(node), "hook", prefs())
        await store.notify.enqueue(
            [("hook", sub, {"to": ADDRESS, "title": "t", "body": "one"})], clock.now()
        )
        ep.fail = 3
        dues = []
        for _ in range(3):
            assert await notifier.deliver_due() == 0
            (state,) = await notifier.status()
            assert state["state"] == "failing" and state["last_error"] == "refused"
            next_due = await store.notify.next_due()
            assert next_due is not None
            dues.append(next_due - clock.now())
            assert await notifier.deliver_due() == 0  # not due yet: nothing is tried
            clock.advance(next_due - clock.now())
        rng = random.Random(1)
        assert dues == [backoff_s(n, rng) for n in (1, 2, 3)]
        assert dues[0] < dues[1] < dues[2]
        assert await notifier.deliver_due() == 1
        assert [g["message"] for g in ep.got] == ["one"]
        (state,) = await notifier.status()
        assert state["state"] == "ok" and state["queue"] == 0 and state["failed"] == 3
    finally:
        notifier.close()


async def test_a_message_is_dropped_after_its_last_attempt(make_node: NodeFactory) -> None:
    node = await make_node()
    store = node.unlocked().store
    await store.notify.add_channel("dead", "json", "json://127.0.0.1:9/none")
    clock = FakeClock()

    def refuse(url: str, to: str, title: str, body: str) -> None:
        raise NotifyError("refused", "no")

    notifier = Notifier(
        store.notify, store.alerts, clock, lambda: node.unlocked().texts, deliver=refuse
    )
    try:
        await store.notify.enqueue(
            [("dead", None, {"to": "x", "title": "t", "body": "b"})], clock.now()
        )
        for _ in range(MAX_ATTEMPTS):
            await notifier.deliver_due()
            clock.advance(7 * 86400)
        assert await store.notify.next_due() is None and notifier.dropped == 1
    finally:
        notifier.close()


async def test_a_hung_service_delays_neither_publishing_nor_other_channels(
    make_node: NodeFactory, endpoint: tuple[Endpoint, str]
) -> None:
    ep, url = endpoint
    node = await make_node()
    unlocked = node.unlocked()
    release = threading.Event()
    calls: list[str] = []

    def hang_or_send(url: str, to: str, title: str, body: str) -> None:
        calls.append(url.split(":")[0])
        if url.startswith("ntfy"):
            release.wait(10)
            return
        channels.deliver(url, to, title, body)

    notifier = unlocked.notifier
    notifier._deliver = hang_or_send  # the node's own notifier, with a hanging service
    notifier._timeout_s = 1.0
    try:
        await run(node, "channel.add", name="slow", url="ntfy://127.0.0.1:9")
        await run(node, "channel.add", name="hook", url=url)
        her = await member(node)
        await unlocked.store.notify.subscribe(her, "slow", prefs(address="topic"))
        await unlocked.store.notify.subscribe(her, "hook", prefs())
        loop = asyncio.get_running_loop()
        started = loop.time()
        for n in range(3):
            await unlocked.alerts.publish(draft(n))
        assert loop.time() - started < 1.0, "publishing waited for a service"
        await eventually(lambda: _count(ep, 3))
        assert "ntfy" in calls
        await eventually(lambda: _failing(node, "slow"), timeout=10)
        (slow,) = [
            c for c in (await node.status())["notifications"]["channels"] if c["name"] == "slow"
        ]
        assert slow["last_error"] == "timeout"
    finally:
        release.set()


async def _failing(node: Node, name: str) -> bool:
    states = {c["name"]: c for c in await node.unlocked().notifier.status()}
    return states[name]["state"] == "failing"


async def test_send_direct_answers_with_codes(
    make_node: NodeFactory, endpoint: tuple[Endpoint, str]
) -> None:
    ep, url = endpoint
    node = await make_node()
    with pytest.raises(NotifyError) as caught:
        await send_direct(node, "nope", "x", "hello")
    assert caught.value.code == "no_channel"
    await run(node, "channel.add", name="hook", url=url)
    with pytest.raises(NotifyError) as caught:
        await send_direct(node, "hook", "two words", "hello")
    assert caught.value.code == "bad_address"
    assert await send_direct(node, "hook", "+447700900123", "Reply text") is None
    assert ep.got[-1]["message"] == "Reply text" and ep.got[-1]["to"] == "+447700900123"
    ep.fail = 1
    with pytest.raises(NotifyError) as caught:
        await send_direct(node, "hook", "+447700900123", "again")
    assert caught.value.code == "refused"


async def test_removing_a_channel_removes_its_subscriptions_and_queue(
    make_node: NodeFactory,
) -> None:
    node = await make_node()
    notify = node.unlocked().store.notify
    await notify.add_channel("c", "json", "json://127.0.0.1:9/x")
    sub = await notify.subscribe(await member(node), "c", prefs())
    await notify.enqueue([("c", sub, {"to": "x", "body": "b"})], 10**12)
    assert await run(node, "channel.remove", name="c") == {"name": "c", "subscriptions": 1}
    assert await notify.next_due() is None and await notify.all_subscriptions() == []
    with pytest.raises(NotFound):
        await run(node, "channel.remove", name="c")


async def test_a_daily_digest_goes_once_at_the_coarse_hour(
    make_node: NodeFactory, endpoint: tuple[Endpoint, str]
) -> None:
    ep, url = endpoint
    node = await make_node()
    await run(node, "channel.add", name="hook", url=url)
    store = node.unlocked().store
    notify = store.notify
    her = await member(node)
    await notify.subscribe(her, "hook", prefs(digest=True))
    await notify.subscribe(her, "hook", prefs(digest=True, content=True, address="second"))
    # A notifier of its own on fake time; the node's (on the system clock) is stopped
    # first so that it routes nothing itself.
    await node.jobs.stop()
    clock = FakeClock(start=10 * 86400 + 9 * 3600)  # 09:00 UTC
    notifier = Notifier(notify, store.alerts, clock, lambda: node.unlocked().texts)
    try:
        await notifier.route()  # the cursor starts at the end of the log
        for n in range(3):
            await node.unlocked().alerts.publish(draft(n))
        assert await notifier.route() == 0  # digests are counted, not queued apart
        assert await notifier.deliver_due() == 0
        assert await notify.next_due() == next_digest_at(clock.now()) == 10 * 86400 + 17 * 3600
        clock.advance(8 * 3600)
        assert await notifier.deliver_due() == 2
        by_to = {g["to"]: g["message"] for g in ep.got}
        assert by_to[ADDRESS] == NOTICE  # content-free: not even how many
        assert by_to["second"].startswith("3 new alerts today.")
        assert await notifier.deliver_due() == 0 and await notify.next_due() is None
    finally:
        notifier.close()


async def test_deleting_a_member_deletes_her_subscriptions_and_queue(
    make_node: NodeFactory,
) -> None:
    node = await make_node()
    notify = node.unlocked().store.notify
    await notify.add_channel("c", "json", "json://127.0.0.1:9/x")
    her = await member(node)
    sub = await notify.subscribe(her, "c", prefs())
    await notify.enqueue([("c", sub, {"to": ADDRESS, "body": "b"})], 10**12)
    await node.unlocked().store.members.delete(her)
    assert await notify.all_subscriptions() == [] and await notify.next_due() is None


async def test_the_queue_survives_a_restart(make_node: NodeFactory) -> None:
    node = await make_node()
    notify = node.unlocked().store.notify
    await notify.add_channel("c", "json", "json://127.0.0.1:9/x")
    await notify.enqueue([("c", None, {"to": ADDRESS, "body": "b"})], 10**12)
    again = await make_node.restart(node)  # type: ignore[attr-defined]
    (kept,) = await again.unlocked().store.notify.due(10**12, 10)
    assert kept.payload["to"] == ADDRESS and kept.channel == "c"


def test_the_docs_table_says_what_joins_does() -> None:
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "notifications.md").read_text()
    table = doc.split("<!-- joins:begin -->")[1].split("<!-- joins:end -->")[0]
    documented: dict[str, tuple[str, str]] = {}
    for line in table.strip().splitlines()[2:]:
        kinds, what, how = (cell.strip() for cell in line.strip("|").split("|"))
        for kind in kinds.split(","):
            documented[kind.strip().strip("`")] = (what, how)
    assert set(documented) == set(channels.JOINS)
    for kind, join in channels.JOINS.items():
        what, how = documented[kind]
        assert what == join.what, kind
        if join.how == "query":
            assert how.startswith(f"query parameter `{join.param}=`"), kind
        else:
            assert how == "last path segment", kind


async def test_a_delivery_thread_never_sets_the_warning_filters(
    endpoint: tuple[Endpoint, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # catch_warnings saves and restores process-wide state: two threads inside it at
    # once can leave the filters wrong. Only the first load, on the loop, enters it.
    ep, url = endpoint
    channels.load_apprise()
    entered: list[str] = []
    real = warnings.catch_warnings

    def recorded(*args: Any, **kwargs: Any) -> Any:
        entered.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(channels.warnings, "catch_warnings", recorded)
    await asyncio.get_running_loop().run_in_executor(
        None, channels.deliver, url, ADDRESS, "title", "body"
    )
    assert len(ep.got) == 1
    assert entered == []
