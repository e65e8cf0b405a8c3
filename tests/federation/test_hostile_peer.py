"""A hostile peer cannot forge, alter, mislabel or over-relay an alert, and what it
tried is never stored or relayed."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import nacl.signing
import pytest

from federation.trust import Peer
from node.app import Node
from protocol.alert import AlertBody, Indicator, coarsen_hour, sign_alert
from protocol.card import make_card
from protocol.retraction import RetractionBody
from protocol.signing import Envelope, Kind, sign
from tests.conftest import NodeFactory
from tests.federation.fakes import FakeFeed, start_hostile_peer
from tests.federation.nodes import eventually, has_alert, pair
from tests.federation.test_network import caught_up

EVIL = nacl.signing.SigningKey(b"\x66" * 32)
OTHER = nacl.signing.SigningKey(b"\x77" * 32)


def body(key: nacl.signing.SigningKey, now: int, text: str = "x", hops: int = 2) -> AlertBody:
    return AlertBody(
        origin=bytes(key.verify_key),
        created=coarsen_hour(now),
        expires=coarsen_hour(now) + 86400,
        incident="2026-11-01",
        region="GB",
        categories=("violence",),
        danger=3,
        indicators=(Indicator("phone", b"\x01" * 32, bytes(8), 1),),
        description=text,
        lang="en",
        hops=hops,
        tlp="GREEN",
        nonce=hashlib.blake2b(f"{text}:{hops}".encode(), digest_size=16).digest(),
    )


@pytest.fixture
async def hostile(make_node: NodeFactory) -> AsyncIterator[tuple[FakeFeed, Node, Node]]:
    """B (plain HTTP allowed, loopback) peers with C and with a hostile peer EVIL."""
    feed = FakeFeed()
    b = await make_node("B", allow_http=True)
    c = await make_node("C")
    await pair(b, c)
    victim = Peer(bytes.fromhex(b.config.key), "B", (), ())
    runner, url = await start_hostile_peer(EVIL, victim, feed)
    # Plain HTTP on loopback (the test flag): the pin is never checked, but a card has one.
    card = make_card(EVIL, "Evil", (url,), (bytes(32),), b.clock.now()).to_text()
    await b.unlocked().trust.add_peer(card, "relay", True, None)
    yield feed, b, c
    await b.unlocked().trust.remove_peer("Evil", purge=False)
    await runner.cleanup()


async def test_forged_altered_and_mislabelled_items_are_refused(
    hostile: tuple[FakeFeed, Node, Node],
) -> None:
    feed, b, _ = hostile
    now = b.clock.now()
    evil = bytes(EVIL.verify_key)
    good = sign_alert(body(EVIL, now, "honest"), EVIL, now)
    # 1. A forged signature: the body claims EVIL, the signature is garbage.
    forged = Envelope(Kind.ALERT, evil, body(EVIL, now, "forged").to_bytes(), b"\x00" * 64)
    forged_id = feed.add(forged.to_bytes(), origin=evil)
    # 2. A valid alert with its body changed after signing.
    altered_body = good.envelope.body.replace(b"honest", b"HONEST")
    altered = Envelope(Kind.ALERT, evil, altered_body, good.envelope.sig)
    altered_id = feed.add(altered.to_bytes(), origin=evil, claimed_id=altered.id)
    # 3. An alert claiming another origin (signed by EVIL, body says OTHER).
    claimed = sign(Kind.ALERT, body(OTHER, now, "impostor").to_bytes(), EVIL)
    claimed_id = feed.add(claimed.to_bytes(), origin=bytes(OTHER.verify_key), claimed_id=claimed.id)
    # 4. A real alert by OTHER, served under the id of something else.
    other = sign_alert(body(OTHER, now, "swapped"), OTHER, now)
    swapped_id = feed.add(other.envelope.to_bytes(), origin=evil, claimed_id=b"\x09" * 32)
    # 5. A retraction of OTHER's alert not signed by OTHER.
    bad_retraction = sign(
        Kind.RETRACTION,
        RetractionBody(
            bytes(OTHER.verify_key), other.id, "mistaken", coarsen_hour(now), now + 3600
        ).to_bytes(),
        EVIL,
    )
    feed.add(
        bad_retraction.to_bytes(),
        origin=bytes(OTHER.verify_key),
        kind="r",
        claimed_id=bad_retraction.id,
    )
    # 6. Signed by EVIL but dated in the far future, and one already expired.
    future = body(EVIL, now + 30 * 86400, "from the future")
    future_env = sign(Kind.ALERT, future.to_bytes(), EVIL)
    future_id = feed.add(future_env.to_bytes(), origin=evil, claimed_id=future_env.id)
    stale = body(EVIL, now - 10 * 86400, "long expired")
    stale_env = sign(Kind.ALERT, stale.to_bytes(), EVIL)
    stale_id = feed.add(stale_env.to_bytes(), origin=evil, claimed_id=stale_env.id)
    # 7. One honest alert, so we know the pull itself worked.
    honest_id = feed.add(good.envelope.to_bytes(), origin=evil, claimed_id=good.id)
    await b.unlocked().trust.sync_now()
    await eventually(lambda: has_alert(b, honest_id))
    # B read the hostile peer's whole feed (so every item was offered) ...
    assert await caught_up(b, "Evil")
    # ... and stored only the honest one.
    assert (await b.unlocked().store.alerts.counts(now))["alerts"] == 1
    for refused in (forged_id, altered_id, claimed_id, other.id, swapped_id, future_id, stale_id):
        assert not await has_alert(b, refused)


async def test_relay_that_lies_about_hops_is_bounded(hostile: tuple[FakeFeed, Node, Node]) -> None:
    feed, b, c = hostile
    now = b.clock.now()
    # OTHER allowed 1 hop; EVIL relays it claiming hops 0 (as if it were the origin).
    one_hop = sign_alert(body(OTHER, now, "one hop", hops=1), OTHER, now)
    feed.add(
        one_hop.envelope.to_bytes(), origin=bytes(OTHER.verify_key), claimed_id=one_hop.id, hops=0
    )
    # An alert allowing 2 hops, claimed at hops 0: B takes it at 2, and never relays to C.
    two_hops = sign_alert(body(OTHER, now, "two hops", hops=2), OTHER, now)
    feed.add(
        two_hops.envelope.to_bytes(), origin=bytes(OTHER.verify_key), claimed_id=two_hops.id, hops=0
    )
    await b.unlocked().trust.sync_now()
    await eventually(lambda: has_alert(b, two_hops.id))
    assert await caught_up(b, "Evil")
    assert not await has_alert(b, one_hop.id)
    await c.unlocked().trust.sync_now()
    assert not await has_alert(c, two_hops.id)
