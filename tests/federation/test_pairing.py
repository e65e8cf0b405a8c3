"""Pairing with zeroconf: real mDNS on 127.0.0.1 between in-process nodes.

Multicast works on this machine's loopback interface inside one process, so no
network namespace is needed; every test binds 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from zeroconf import ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from federation.clock import SystemClock
from federation.discovery import (
    SERVICE_TYPE,
    TXT_CHUNK_CHARS,
    Discovery,
    DiscoveryError,
    card_from_txt,
    card_txt,
    instance_name,
)
from node import cli
from node.app import Node
from node.commands.control import COMMANDS
from node.errors import NotFound, UsageError
from protocol.card import make_card
from protocol.errors import MalformedObject, ProtocolError
from tests.conftest import NodeFactory
from tests.federation.nodes import draft, eventually, has_alert

LOOPBACK = ["127.0.0.1"]
NOW = 1_790_000_000


async def control(node: Node, name: str, **args: Any) -> dict[str, Any]:
    return await COMMANDS[name](node, args)


class Watcher:
    """A bystander on the loopback network: records every advertisement it sees."""

    def __init__(self) -> None:
        self.zc = AsyncZeroconf(interfaces=LOOPBACK)
        self.events: list[tuple[str, ServiceStateChange]] = []
        self.browser = AsyncServiceBrowser(self.zc.zeroconf, [SERVICE_TYPE], handlers=[self._on])

    def _on(
        self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        self.events.append((name, state_change))

    def saw(self, name: str, change: ServiceStateChange) -> bool:
        return (name, change) in self.events

    async def close(self) -> None:
        await self.browser.async_cancel()
        await self.zc.async_close()


@pytest.fixture
async def watcher() -> AsyncIterator[Watcher]:
    w = Watcher()
    yield w
    await w.close()


def key_of(node: Node) -> bytes:
    return bytes.fromhex(node.config.key)


# --- the TXT record ----------------------------------------------------------------


def test_card_round_trips_through_txt_strings_under_255_bytes() -> None:
    import nacl.signing

    key = nacl.signing.SigningKey(b"\x07" * 32)
    urls = tuple(f"https://node-{i}.example.org:8443/" + "p" * 200 for i in range(4))
    card = make_card(key, "A long organisation name " * 3, urls, (b"\x01" * 32,), NOW)
    props = card_txt(card.to_text(), b"\x03" * 32, b"\x04" * 32)
    assert len(props) > 3
    assert all(len(f"{k}={v}".encode()) <= 255 for k, v in props.items())
    raw = {k.encode(): v.encode() for k, v in props.items()}
    assert card_from_txt(raw, NOW).key == card.key


def test_tampered_or_foreign_txt_is_refused() -> None:
    import nacl.signing

    card = make_card(
        nacl.signing.SigningKey(b"\x07" * 32), "A", ("https://a.example",), (b"\x02" * 32,), NOW
    )
    raw = {k.encode(): v.encode() for k, v in card_txt(card.to_text()).items()}
    body = raw[b"c0"]
    flipped = body[:-8] + (b"A" if body[-8:-7] != b"A" else b"B") + body[-7:]
    with pytest.raises(ProtocolError):
        card_from_txt({**raw, b"c0": flipped}, NOW)
    with pytest.raises(MalformedObject):
        card_from_txt({**raw, b"n": b"99"}, NOW)
    with pytest.raises(MalformedObject):
        card_from_txt({b"v": b"1", **{k: v for k, v in raw.items() if k != b"v"}}, NOW)
    assert TXT_CHUNK_CHARS + len("c99=") <= 255


def test_interface_list_must_be_addresses() -> None:
    import nacl.signing

    card = make_card(
        nacl.signing.SigningKey(b"\x07" * 32), "A", ("https://a.example",), (b"\x02" * 32,), NOW
    )
    with pytest.raises(DiscoveryError):
        Discovery(card, SystemClock(), ["eth0"], b"\x00" * 32)


# --- real nodes ----------------------------------------------------------------------


async def test_two_nodes_discover_each_other_and_pair_by_key(
    make_node: NodeFactory, watcher: Watcher
) -> None:
    a, b, c = await make_node("Alpha"), await make_node("Bravo"), await make_node("Charlie")
    await control(a, "pair.start", seconds=30, interfaces=LOOPBACK)
    await control(b, "pair.start", seconds=30, interfaces=LOOPBACK)

    async def both_found() -> bool:
        seen_a = {d["key"] for d in (await control(a, "pair.status"))["discovered"]}
        seen_b = {d["key"] for d in (await control(b, "pair.status"))["discovered"]}
        return b.config.key in seen_a and a.config.key in seen_b

    await eventually(both_found, timeout=20)
    found_a = (await control(a, "pair.status"))["discovered"]
    found_b = (await control(b, "pair.status"))["discovered"]
    # C never entered pairing mode: nobody, not even a bystander, sees it.
    assert c.config.key not in {d["key"] for d in found_a + found_b}
    assert not any(instance_name(key_of(c)) == name for name, _ in watcher.events)
    (bravo,) = found_a
    (alpha,) = found_b
    assert (bravo["name"], alpha["name"]) == ("Bravo", "Alpha")
    assert bravo["sas"] == alpha["sas"]
    assert bravo["urls"] == [b.unlocked().trust.url]
    # Discovery trusts nothing by itself.
    assert await a.unlocked().store.peers.get(key_of(b)) is None

    # A key that was not discovered is refused; a discovered one is added.
    with pytest.raises(NotFound):
        await control(a, "pair.accept", key=c.config.key)
    added = await control(a, "pair.accept", key=b.config.key)
    assert (added["name"], added["sas"]) == ("Bravo", bravo["sas"])
    await control(b, "pair.accept", key=a.config.key, accept="direct")
    await control(a, "pair.stop")
    await control(b, "pair.stop")
    assert not a.pairing.active and not b.pairing.active

    alert_id = await a.unlocked().alerts.publish(draft(1, hops=1))
    await eventually(lambda: has_alert(b, alert_id), timeout=8)


async def test_advertises_only_while_pairing(make_node: NodeFactory, watcher: Watcher) -> None:
    a = await make_node("Alpha")
    name = instance_name(key_of(a))
    # Before: the node runs, but a bystander hears nothing from it.
    await asyncio.sleep(1.5)
    assert watcher.events == []
    await control(a, "pair.start", seconds=2, interfaces=LOOPBACK)
    assert a.pairing.active
    await eventually(lambda: _true(watcher.saw(name, ServiceStateChange.Added)), timeout=5)
    # After the period ends the node says goodbye and stops answering.
    await eventually(lambda: _true(watcher.saw(name, ServiceStateChange.Removed)), timeout=6)
    assert not a.pairing.active
    assert (await control(a, "pair.status"))["active"] is False
    fresh = AsyncZeroconf(interfaces=LOOPBACK)
    try:
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        assert not await info.async_request(fresh.zeroconf, 1000)
        assert not info.properties
    finally:
        await fresh.async_close()


async def test_pairing_limits(make_node: NodeFactory) -> None:
    a = await make_node("Alpha")
    with pytest.raises(UsageError):
        await control(a, "pair.start", seconds=0, interfaces=LOOPBACK)
    with pytest.raises(UsageError):
        await control(a, "pair.start", seconds=10, interfaces=["not-an-address"])
    assert not a.pairing.active


async def test_cli_pair_adds_only_the_named_key(
    make_node: NodeFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = await make_node("Alpha"), await make_node("Bravo")
    await control(b, "pair.start", seconds=30, interfaces=LOOPBACK)
    argv = ["pair", "--data", str(a.data_dir), "--seconds", "2", "--interface", "127.0.0.1"]
    # Without a terminal and without --accept-key nothing is added.
    code = await asyncio.to_thread(cli.main, [*argv, "--json"])
    listed = json.loads(capsys.readouterr().out)
    assert code == 0 and listed["added"] == []
    assert [d["key"] for d in listed["discovered"]] == [b.config.key]
    assert await a.unlocked().store.peers.get(key_of(b)) is None

    code = await asyncio.to_thread(cli.main, [*argv, "--json", "--accept-key", b.config.key])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [p["key"] for p in result["added"]] == [b.config.key]
    # The code is the second session's (a new nonce): what that run showed.
    assert result["added"][0]["sas"] == result["discovered"][0]["sas"]
    assert await a.unlocked().store.peers.get(key_of(b)) is not None
    assert not a.pairing.active
    await control(b, "pair.stop")


async def _true(value: bool) -> bool:
    return value
