"""What a member reads when a check matches alerts from organisations this node cannot
name (issue 12, item 5): the count of organisations covers only this node and its
peers (a peer's retired key is still that peer), and the rest is said in words."""

from __future__ import annotations

import time

import nacl.signing
import nacl.utils

from node.service import Draft
from protocol.alert import AlertBody, Indicator, coarsen_hour, sign_alert
from tests.node.test_web_support import Site, site_fixture  # noqa: F401

PHONE = "+44 7700 900555"


def body(key: nacl.signing.SigningKey, now: int, text: str, found: tuple[Indicator, ...]):  # type: ignore[no-untyped-def]
    made = AlertBody(
        origin=bytes(key.verify_key),
        created=coarsen_hour(now),
        expires=coarsen_hour(now) + 30 * 86400,
        incident=time.strftime("%Y-%m-%d", time.gmtime(now - 86400)),
        region="GB",
        categories=("violence",),
        danger=2,
        indicators=found,
        description=text,
        lang="en",
        hops=3,
        tlp="GREEN",
        nonce=nacl.utils.random(16),
    )
    return sign_alert(made, key, now)


async def test_check_page_counts_only_organisations_this_node_knows(site: Site) -> None:
    node = site.node
    service = node.unlocked().alerts
    store = site.store
    now = node.clock.now()
    await service.publish(Draft(["violence"], 3, "GB", [("phone", PHONE)]))
    found = await service.blind_indicators([("phone", PHONE)])
    old, new = nacl.signing.SigningKey.generate(), nacl.signing.SigningKey.generate()
    old_pub, new_pub = bytes(old.verify_key), bytes(new.verify_key)
    await store.peers.add(
        old_pub, "Peer org", ("https://peer.example:7443",), (bytes(32),),
        accept="relay", share=True, proxy=None, now=now,
    )  # fmt: skip
    await store.peers.replace_key(old_pub, new_pub, rotated_at=now)
    await node.refresh_peer_names()
    minted = [nacl.signing.SigningKey.generate() for _ in range(3)]
    items = [(body(old, now, "peer, old key", found), 1, old_pub)]
    items += [(body(new, now, "peer, new key", found), 1, new_pub)]
    items += [(body(k, now, f"minted {n}", found), 2, new_pub) for n, k in enumerate(minted)]
    assert await store.alerts.put_batch(items, now) == [True] * 5
    result = await service.check("phone", PHONE)
    assert (result["matches"], result["organisations"]) == (6, 2)
    assert result["unknown_organisation_alerts"] == 3
    member = await site.member("checker")
    status, html, _ = await member.post("/check", {"kind": "phone", "value": PHONE})
    assert status == 200
    assert "6 alerts match" in html
    assert "<dt>Organisations this node knows</dt><dd>2</dd>" in html
    assert "3 of these alerts were relayed from organisations this node does not know." in html
    assert html.count("Relayed from an organisation this node does not know") == 3
    assert html.count("From: Peer org") == 2
