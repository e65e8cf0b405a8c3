"""A relaying peer that mints origins does not make up organisations (issue 12, item 5).

Anyone can make a key, so a peer that relays 24 alerts from 24 origins of its own
making used to turn one report into "26 alerts from 26 organisations". A check now
counts as organisations only those this node can name (itself and its peers, under
every key each has had) and says how many alerts came from organisations it does not
know. The nodes are MemNodes on the fake clock; the checking node runs the real
AlertService with a real network key ring.
"""

from __future__ import annotations

import dataclasses
import secrets

import nacl.signing

from federation.ingest import PullResult
from node.commands.alerts import _show_check
from node.keys.slowhash import NetworkKeyRing, SlowHashPool
from node.service import AlertService, organisation_names
from node.settings import Settings
from protocol.alert import Indicator, sign_alert
from protocol.indicators import NetworkKey
from tests.federation.memnet import MemNet, MemNode, alert_body

PHONE = "+44 7700 900777"


def ok(result: PullResult) -> PullResult:
    assert result.error is None, result.error
    return result


class Checker:
    """B's alert service, with the organisation names B's node would hold."""

    def __init__(self, node: MemNode) -> None:
        self.node = node
        self.ring = NetworkKeyRing([NetworkKey(secrets.token_bytes(32))], lambda keys: None)
        self.names: dict[bytes, str] = {}
        self.orgs: dict[bytes, bytes] = {}
        self.service = AlertService(
            node.store, node.key, node.net.clock, SlowHashPool(), Settings({"phone_region": "GB"}),
            lambda: self.names, self.ring, organisations=lambda: self.orgs,
        )  # fmt: skip

    async def check(self) -> dict[str, object]:
        peers = await self.node.store.peers.list()
        self.names, self.orgs = organisation_names(peers, [self.node.pub], self.node.name)
        return await self.service.check("phone", PHONE)

    async def indicators(self) -> tuple[Indicator, ...]:
        """PHONE blinded under the network key (every node of the network holds it)."""
        return await self.service.blind_indicators([("phone", PHONE)])


def matching(key: nacl.signing.SigningKey, now: int, text: str, found: tuple[Indicator, ...]):  # type: ignore[no-untyped-def]
    body = dataclasses.replace(alert_body(key, now, text), indicators=found)
    return sign_alert(body, key, now)


async def test_minted_origins_are_not_counted_as_organisations(memnet: MemNet) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    evil = await memnet.hostile("evil", b)
    checker = Checker(b)
    found = await checker.indicators()
    now = memnet.clock.now()
    real = matching(a.key, now, "from a", found)
    await a.store.alerts.put_alert(real, hops=0, received_from=None, now=now)
    evil.serve(matching(evil.key, now, "evil's own", found))
    for n in range(24):
        minted = nacl.signing.SigningKey.generate()
        evil.serve(matching(minted, now, f"minted {n}", found), hops=1)
    assert ok(await b.pull(a)).stored == 1
    assert ok(await b.pull(evil)).stored == 25
    result = await checker.check()
    assert result["matches"] == 26
    # A and EVIL are peers B can name; the 24 minted origins are not organisations.
    assert result["organisations"] == 2
    assert result["unknown_organisation_alerts"] == 24
    alerts = result["alerts"]
    assert isinstance(alerts, list)
    assert sum(not x["origin_known"] for x in alerts) == 24
    assert {x["organisation"] for x in alerts if x["origin_known"]} == {"a", "evil"}
    words = _show_check(result)
    assert words.startswith(
        "2 alert(s) from 2 organisation(s) this node knows, and 24 more relayed from"
        " organisations this node does not know"
    ), words
    # A rotates its key and publishes again: its old and new keys are one organisation.
    await a.rotate()
    again = matching(a.key, memnet.clock.now(), "from a, new key", found)
    await a.store.alerts.put_alert(again, hops=0, received_from=None, now=memnet.clock.now())
    assert ok(await b.pull(a)).stored == 1
    result = await checker.check()
    assert (result["matches"], result["organisations"]) == (27, 2)
    assert result["unknown_organisation_alerts"] == 24
