"""TLP 2.0 reach and extensions on the in-memory network: a chain A - B - C of real
syncers, servers and stores, on fake time."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from federation.trust import Peer, may_answer_partner_check, may_serve
from node.service import alert_json
from protocol.alert import sign_alert
from protocol.extensions import Extensions
from protocol.fields import TLP_LABELS, TLP_MAX_HOPS
from tests.federation.memnet import MemNet, MemNode, alert_body

# Where an alert published at A lands in the chain A - B - C, by label.
REACH = {
    "CLEAR": {"b", "c"},
    "GREEN": {"b", "c"},
    "AMBER": {"b"},
    "AMBER+STRICT": {"b"},
    "RED": set(),
}


async def chain(memnet: MemNet) -> tuple[MemNode, MemNode, MemNode]:
    a, b, c = [await memnet.node(n) for n in "abc"]
    await memnet.pair(a, b)
    await memnet.pair(b, c)
    return a, b, c


@pytest.mark.parametrize("label", TLP_LABELS)
async def test_each_label_reaches_exactly_as_far_as_it_allows(memnet: MemNet, label: str) -> None:
    a, b, c = await chain(memnet)
    alert_id = await a.publish(label, hops=min(2, TLP_MAX_HOPS[label]), tlp=label)
    await b.pull(a)
    await c.pull(b)
    assert {n.name for n in (b, c) if await n.has(alert_id)} == REACH[label]
    # And a retraction goes exactly where its alert went.
    await a.retract(alert_id)
    await b.pull(a)
    await c.pull(b)
    assert not await b.has(alert_id) and not await c.has(alert_id)


@dataclass(frozen=True)
class FakeEntry:
    tlp: str
    hops: int
    max_hops: int = 6
    kind: str = "a"
    origin: bytes = b"o" * 32
    received_from: bytes | None = b"f" * 32
    expires: int = 10**9


PEER = Peer(key=b"p" * 32, name="p", urls=(), pins=(bytes(32),))


@pytest.mark.parametrize("label", TLP_LABELS)
def test_the_label_caps_relay_whatever_hops_says(label: str) -> None:
    # hops on the wire is already capped by the label; the server checks again.
    served = [h for h in range(7) if may_serve(PEER, FakeEntry(label, hops=h), now=0)]
    assert served == list(range(TLP_MAX_HOPS[label]))
    assert not may_serve(PEER, FakeEntry("UNKNOWN", hops=0), now=0)


@pytest.mark.parametrize(
    ("tlp", "consent", "own", "allowed"),
    [
        ("CLEAR", True, False, True),
        ("GREEN", True, False, True),
        ("AMBER", True, False, True),
        ("AMBER+STRICT", True, False, False),
        ("RED", True, False, False),
        ("GREEN", False, False, False),  # the default: no
        ("GREEN", False, True, True),  # our own alert is ours to use
        ("AMBER+STRICT", False, True, False),
        ("RED", False, True, False),
    ],
)
def test_partner_checks_need_the_label_and_the_origins_consent(
    tlp: str, consent: bool, own: bool, allowed: bool
) -> None:
    us, them = b"u" * 32, b"t" * 32
    assert may_answer_partner_check(us if own else them, us, tlp, consent) is allowed


UNKNOWN = Extensions.of({"org.example:colour": "red", "net.other:list": (1, b"\x00", None)})


async def test_unknown_extensions_are_stored_relayed_byte_exact_and_found(memnet: MemNet) -> None:
    a, b, c = await chain(memnet)
    now = memnet.clock.now()
    body = dataclasses.replace(alert_body(a.key, now, "with extensions"), ext=UNKNOWN)
    alert = sign_alert(body, a.key, now)
    await a.store.alerts.put_alert(alert, hops=0, received_from=None, now=now)
    await b.pull(a)
    await c.pull(b)
    stored = await c.store.alerts.get_alert(alert.id, now)
    assert stored is not None and stored.envelope == alert.envelope.to_bytes()
    blinded = body.indicators[0].blinded
    found = await c.store.alerts.find_by_indicator("phone", blinded, now)
    assert [f.id for f in found] == [alert.id]
    assert alert_json(found[0], {})["description"] == "with extensions"


async def test_an_unknown_must_understand_extension_is_refused(memnet: MemNet) -> None:
    a, b, _ = await chain(memnet)
    now = memnet.clock.now()
    ext = Extensions.of({"org.example:changes-meaning": 1}, ("org.example:changes-meaning",))
    body = dataclasses.replace(alert_body(a.key, now, "must understand"), ext=ext)
    alert = sign_alert(body, a.key, now)  # its signer understands it
    await a.store.alerts.put_alert(alert, hops=0, received_from=None, now=now)
    result = await b.pull(a)
    assert (result.stored, result.refused) == (0, 1)
    assert result.refusal_code == "unsupported_extension"
    assert "org.example:changes-meaning" in result.refusals[0]
    assert "must-understand" in result.refusals[0]
    assert not await b.has(alert.id)
