"""Network blinding keys on the in-memory network: nodes initialised apart, then paired,
match each other's alerts and the ones they relay; outsiders cannot (issue 11.4).

Each node here is a MemNode with a key ring, the key exchange wired into its server
and syncer as node/peering.py wires them, and the real AlertService (real Argon2id).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from federation.errors import PeerRefused
from federation.interfaces import Peer
from federation.netkeys import PATH, KeyExchange
from node import service as service_module
from node.errors import UsageError
from node.keys.slowhash import MAX_NETWORK_KEYS, NetworkKeyRing, SlowHashPool
from node.service import AlertService, Draft
from node.settings import Settings
from protocol.alert import verify_alert
from protocol.feed import IdEntry
from protocol.indicators import SUITE, NetworkKey
from protocol.netkeys import seal_statement
from tests.federation.memnet import MemNet, MemNode, until

PHONE_A = "+44 7700 900111"
PHONE_B = "+44 7700 900222"


class CountingPool(SlowHashPool):
    """The real pool, recording how many slow hashes each check asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.hashes_per_check: list[int] = []

    async def blind_each(
        self, kind: str, text: str, default_region: str, keys: Sequence[tuple[int, NetworkKey]]
    ) -> list[bytes]:
        self.hashes_per_check.append(len(keys))
        return await super().blind_each(kind, text, default_region, keys)


@dataclass
class Org:
    """One organisation's node: the MemNode, its key ring and its alert service."""

    node: MemNode
    ring: NetworkKeyRing
    service: AlertService
    pool: CountingPool
    sealed: list[tuple[NetworkKey, ...]] = field(default_factory=list)
    # The organisations its checks can name (the node keeps them from its trust list).
    names: dict[bytes, str] = field(default_factory=dict)

    async def publish(self, phone: str, days: int | None = None) -> bytes:
        draft = Draft(["violence"], 3, "GB", [("phone", phone)], hops=2, expires_days=days)
        return await self.service.publish(draft)

    async def matches(self, phone: str) -> int:
        result = await self.service.check("phone", phone)
        return int(result["matches"])


async def org(net: MemNet, name: str) -> Org:
    """A node initialised on its own: a network of one, with a fresh key."""
    node = await net.node(name)
    sealed: list[tuple[NetworkKey, ...]] = []
    ring = NetworkKeyRing([NetworkKey(secrets.token_bytes(32))], sealed.append)

    async def learned(source: bytes) -> None:
        node.syncer.send_keys(exclude=source)

    exchange = KeyExchange(node.key, ring, net.clock.now, learned)
    node.state.key_exchange = exchange
    node.syncer.key_exchange = exchange
    pool = CountingPool()
    names: dict[bytes, str] = {node.pub: name}
    service = AlertService(
        node.store, node.key, net.clock, pool, Settings({"phone_region": "GB"}),
        lambda: names, ring,
    )  # fmt: skip

    async def poke(news: Sequence[IdEntry]) -> None:
        node.syncer.poke_all(news=news)

    service.on_new_item(poke)
    return Org(node, ring, service, pool, sealed, names)


def key_ids(o: Org) -> set[bytes]:
    return {k.key_id for k in o.ring.keys()}  # noqa: SIM118 (a ring, not a dict)


async def exchange(a: Org, b: Org) -> str | None:
    """What a's sync worker does before pulling from b."""
    return await a.node.syncer.exchange_keys(await a.node.peer(b.node))


# --- pairing on the in-memory network (driven step by step) ------------------------


async def test_two_networks_that_pair_match_each_others_alerts(memnet: MemNet) -> None:
    a, b = await org(memnet, "a"), await org(memnet, "b")
    assert key_ids(a).isdisjoint(key_ids(b))
    # 'peer add' on a first: b does not know a yet, so the handover is refused.
    await memnet.add_peer(a.node, b.node)
    assert await exchange(a, b) is not None
    assert len(a.ring.keys()) == 1
    # 'peer add' on b: one handover carries b's keys to a and a's back in the answer.
    await memnet.add_peer(b.node, a.node)
    assert await exchange(b, a) is None
    assert key_ids(a) == key_ids(b) and len(key_ids(a)) == 2
    assert a.ring.current == b.ring.current
    # Every change was sealed (persisted) before use.
    assert {k.key_id for k in a.sealed[-1]} == key_ids(a)

    alert_a = await a.publish(PHONE_A)
    alert_b = await b.publish(PHONE_B)
    assert (await b.node.pull(a.node)).stored == 1
    assert (await a.node.pull(b.node)).stored == 1
    assert await b.node.has(alert_a) and await a.node.has(alert_b)
    assert await b.matches(PHONE_A) == 1
    assert await a.matches(PHONE_B) == 1
    assert await a.matches("+44 7700 900333") == 0
    # Both alerts were blinded with the one current key: one slow hash a check.
    assert a.pool.hashes_per_check[-1] == 1


async def test_alerts_made_before_pairing_still_match_after_it(memnet: MemNet) -> None:
    a, b = await org(memnet, "a"), await org(memnet, "b")
    old_a = await a.publish(PHONE_A)
    old_b = await b.publish(PHONE_A)
    await memnet.pair(a.node, b.node)
    b.names[a.node.pub] = "a"
    assert await exchange(a, b) is None
    await b.node.pull(a.node)
    await a.node.pull(b.node)
    assert await a.node.has(old_b) and await b.node.has(old_a)
    # Two keys in use among unexpired alerts: a check hashes once under each.
    result = await b.service.check("phone", PHONE_A)
    assert result["matches"] == 2 and result["organisations"] == 2
    assert b.pool.hashes_per_check[-1] == 2


async def test_an_outsider_holding_the_bodies_matches_nothing(memnet: MemNet) -> None:
    """A node of another network (or anyone with the bodies and its own key) stores
    the very same alert bytes and still cannot test a guess against them."""
    a, b = await org(memnet, "a"), await org(memnet, "b")
    outsider = await org(memnet, "x")
    await memnet.pair(a.node, b.node)
    assert await exchange(a, b) is None
    alert_id = await a.publish(PHONE_A)
    # The outsider obtains the alert (a leak, a captured relay): same bytes.
    await memnet.add_peer(outsider.node, a.node)
    await memnet.add_peer(a.node, outsider.node, accept="none")
    a_peer = await a.node.store.peers.get(outsider.node.pub)
    assert a_peer is not None
    await outsider.node.pull(a.node)
    assert await outsider.node.has(alert_id)
    assert await outsider.matches(PHONE_A) == 0
    assert outsider.pool.hashes_per_check[-1] == 0  # it holds no key the alert used
    assert await b.matches(PHONE_A) == 0  # b has not pulled yet: nothing to match


async def test_a_third_node_paired_to_one_side_matches_relayed_alerts(livenet: MemNet) -> None:
    """Real sync workers on the fake clock: handovers, gossip and relay happen on their own."""
    a, b, c = await org(livenet, "a"), await org(livenet, "b"), await org(livenet, "c")
    await livenet.pair(a.node, b.node)
    await until(lambda: _same_keys(a, b))
    before = await a.publish(PHONE_A)  # blinded under the a-b network's current key
    await until(lambda: b.node.has(before))
    await livenet.pair(b.node, c.node)  # c knows b only
    await until(lambda: _same_keys(a, b, c))
    assert len(key_ids(a)) == 3
    assert a.ring.current == b.ring.current == c.ring.current
    after = await a.publish(PHONE_B)
    await until(lambda: c.node.has(before))
    await until(lambda: c.node.has(after))
    assert await c.node.store.peers.get(a.node.pub) is None  # relayed, never direct
    assert await c.matches(PHONE_A) == 1
    assert await c.matches(PHONE_B) == 1


async def test_keys_owed_to_a_peer_wait_for_the_pull(livenet: MemNet) -> None:
    """Keys owed to a peer (our set changed, a handover failed) are handed over after
    the worker's next pull, not before it (except its first): that pull may be on an
    alert's way. In the 100-node benchmark, the first alert waited for about ten
    handovers of 0.1 s each at as many hops."""
    a, b = await org(livenet, "a"), await org(livenet, "b")
    await livenet.pair(a.node, b.node)
    await until(lambda: _same_keys(a, b))
    order: list[str] = []
    pull, exchange_keys = b.node.syncer.pull, b.node.syncer.exchange_keys

    async def pulled(peer: Peer, news: Any = None) -> Any:
        order.append("pull")
        return await pull(peer, news)

    async def handed_over(peer: Peer) -> str | None:
        order.append("keys")
        return await exchange_keys(peer)

    b.node.syncer.pull = pulled  # type: ignore[method-assign]
    b.node.syncer.exchange_keys = handed_over  # type: ignore[method-assign]
    b.node.syncer._keys_due.add(a.node.pub)  # owed, and nothing woke the worker yet
    alert = await a.publish(PHONE_A)
    await until(lambda: b.node.has(alert))
    await until(lambda: _said(order, "keys"))
    assert order[:2] == ["pull", "keys"]
    # Handed over: no longer owed, and the next pull goes alone.
    order.clear()
    second = await a.publish(PHONE_B)
    await until(lambda: b.node.has(second))
    assert order == ["pull"]


async def _said(order: list[str], what: str) -> bool:
    return what in order


async def _same_keys(*orgs: Org) -> bool:
    return all(key_ids(o) == key_ids(orgs[0]) for o in orgs)


# --- rotation -------------------------------------------------------------------------


async def test_rotation_new_alerts_use_the_new_key_and_old_ones_still_match(
    memnet: MemNet,
) -> None:
    a, b = await org(memnet, "a"), await org(memnet, "b")
    await memnet.pair(a.node, b.node)
    assert await exchange(a, b) is None
    old = await a.publish(PHONE_A, days=1)
    rotated = a.ring.rotate(secrets.token_bytes(32))
    assert a.ring.current == rotated and rotated.epoch == 1
    assert await exchange(a, b) is None  # what network_changed() makes the worker do
    assert b.ring.current == rotated
    new = await a.publish(PHONE_A)
    await b.node.pull(a.node)
    assert await b.node.has(old) and await b.node.has(new)
    assert await b.matches(PHONE_A) == 2
    assert b.pool.hashes_per_check[-1] == 2  # during the rotation: one hash per version
    # Once the old alert expired, a check costs one hash again.
    memnet.clock.advance(2 * 86400)
    assert await b.matches(PHONE_A) == 1
    assert b.pool.hashes_per_check[-1] == 1


# --- blinding suites ---------------------------------------------------------------


async def test_alerts_of_suite_1_still_match_beside_suite_2_ones(
    memnet: MemNet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An alert a node blinded with suite 1 (before suite 2) keeps matching: a check
    blinds once for each (suite, key) that the node's unexpired alerts carry."""
    a, b = await org(memnet, "a"), await org(memnet, "b")
    await memnet.pair(a.node, b.node)
    assert await exchange(a, b) is None
    monkeypatch.setattr(service_module, "SUITE", 1)  # a node from before suite 2
    old = await a.publish(PHONE_A, days=1)
    monkeypatch.undo()
    new = await a.publish(PHONE_A)
    await b.node.pull(a.node)
    assert await suites_of(b, old) == {1} and await suites_of(b, new) == {SUITE} == {2}
    assert await b.matches(PHONE_A) == 2
    assert b.pool.hashes_per_check[-1] == 2  # one hash per (suite, key)
    assert await b.matches(PHONE_B) == 0
    # Once the suite-1 alert expired, a check costs one hash again.
    memnet.clock.advance(2 * 86400)
    assert await b.matches(PHONE_A) == 1
    assert b.pool.hashes_per_check[-1] == 1


async def test_a_suite_this_node_does_not_implement_is_kept_but_never_hashed(
    memnet: MemNet,
) -> None:
    """A key listed only under a suite this node does not implement (as for an alert
    of a future suite, whose indicators are accepted and kept byte-exact: see
    tests/protocol/test_alert.py) costs a check no slow hash and matches nothing."""
    a, b = await org(memnet, "a"), await org(memnet, "b")
    await memnet.pair(a.node, b.node)
    assert await exchange(a, b) is None
    await a.publish(PHONE_A)
    await b.node.pull(a.node)
    # As if an alert of suite 255 had arrived: its key listed under that suite only.
    await b.node.store.db.write(
        lambda conn: conn.execute("UPDATE indicator_keys SET suite = 255 WHERE suite = ?", (SUITE,))
    )
    assert await b.matches(PHONE_A) == 0
    assert b.pool.hashes_per_check[-1] == 0


async def suites_of(o: Org, alert_id: bytes) -> set[int]:
    now = o.node.net.clock.now()
    stored = await o.node.store.alerts.get_alert(alert_id, now)
    assert stored is not None
    body = verify_alert(stored.envelope, now).body
    return {i.suite for i in body.indicators}


# --- the handover itself ------------------------------------------------------------


def test_the_ring_keeps_at_most_its_bound_and_never_replaces_a_key() -> None:
    first = NetworkKey(secrets.token_bytes(32))
    ring = NetworkKeyRing([first], lambda keys: None)
    flood = [NetworkKey(secrets.token_bytes(32)) for _ in range(2 * MAX_NETWORK_KEYS)]
    assert ring.add(flood)
    assert len(ring.keys()) == MAX_NETWORK_KEYS and ring.get(first.key_id) == first
    assert not ring.add(flood)
    with pytest.raises(UsageError):  # a full ring refuses a rotation, never drops a key
        ring.rotate(secrets.token_bytes(32))


async def test_only_a_peer_on_the_trust_list_can_hand_over_keys(memnet: MemNet) -> None:
    a, b = await org(memnet, "a"), await org(memnet, "b")
    await memnet.add_peer(a.node, b.node)
    statement = seal_statement(a.node.key, b.node.pub, a.ring.keys(), memnet.clock.now())
    with pytest.raises(PeerRefused) as info:
        await a.node.transport.post(await a.node.peer(b.node), PATH, statement, 4096)
    assert info.value.status == 403
    assert len(b.ring.keys()) == 1
    await memnet.add_peer(b.node, a.node)
    await b.node.store.peers.set_policy(a.node.pub, suspended=True)
    assert await exchange(a, b) is not None
    assert len(b.ring.keys()) == 1
