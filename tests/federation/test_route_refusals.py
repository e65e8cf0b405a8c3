"""Every route's own refusals, as docs/protocol.md section 10 ("Refusals by route")
lists them: each scenario gets the documented code, status and field, and the spec's
table names no (route, code, field) that no scenario here replays."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import nacl.public
import nacl.signing
import pytest

from federation.errors import WIRE_CODES
from federation.netkeys import KeyExchange
from protocol.alert import coarsen_hour
from protocol.encoding import pack
from protocol.indicators import NetworkKey
from protocol.move import sign_move
from protocol.netkeys import PURPOSE, x25519_public
from protocol.pins import sign_pins
from protocol.rotation import PROOF_PURPOSE, sign_rotation
from protocol.signing import Kind, sign
from tests.federation.memnet import MemNet, MemNode
from tests.federation.test_errors import STRANGER, Answer, ask, stored

SPEC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


class Ring:
    """A network-key ring as the exchange sees it (node.keys.slowhash implements it)."""

    def __init__(self) -> None:
        self.held: list[NetworkKey] = [NetworkKey(bytes(range(32)), 0)]

    def keys(self) -> tuple[NetworkKey, ...]:
        return tuple(self.held)

    def add(self, keys: Sequence[NetworkKey]) -> bool:
        new = [k for k in keys if k not in self.held]
        self.held.extend(new)
        return bool(new)


def route(name: str) -> str:
    return "/fed/v2/" + name


def changes(**fields: Any) -> bytes:
    return pack({"since": 0, "limit": 10, "epoch": None} | fields)


def bodies(**fields: Any) -> bytes:
    return pack({"epoch": None, "positions": (), "ids": (bytes(32),)} | fields)


def rotation(signer: nacl.signing.SigningKey, new: bytes, now: int, **body: Any) -> bytes:
    """A rotation envelope signed by ``signer``, its proof by another key than ``new``
    (fields overridden by ``body``)."""
    created = coarsen_hour(now)
    old = bytes(signer.verify_key)
    core = pack({"v": 1, "old": old, "new": new, "created": created})
    proof = nacl.signing.SigningKey(bytes(32)).sign(PROOF_PURPOSE + core).signature
    fields = {"v": 1, "old": old, "new": new, "created": created, "proof": proof}
    return sign(Kind.ROTATION, pack(fields | body), signer).to_bytes()


def netkeys(
    signer: nacl.signing.SigningKey, to: bytes, now: int, *, sealed_to: bytes | None = None,
    **fields: Any,
) -> bytes:  # fmt: skip
    """A sealed network-key statement from ``signer`` (fields overridden)."""
    plain = pack(
        {"created": now, "from": bytes(signer.verify_key), "keys": ((0, bytes(32)),), "to": to,
         "v": 2} | fields
    )  # fmt: skip
    inner = signer.sign(PURPOSE + plain).signature + plain
    box = nacl.public.SealedBox(x25519_public(sealed_to or to))
    return bytes(box.encrypt(inner))


Scenario = Callable[[MemNode, MemNode], Awaitable[Answer]]


async def _not_shared(a: MemNode, b: MemNode, name: str, body: bytes) -> Answer:
    await a.store.peers.set_policy(b.pub, share=False)
    return await ask(a, b.key, route(name), body)


def post(name: str, body: Callable[[MemNode, MemNode], bytes]) -> Scenario:
    async def scenario(a: MemNode, b: MemNode) -> Answer:
        return await ask(a, b.key, route(name), body(a, b))

    return scenario


def unshared(name: str, body: bytes) -> Scenario:
    async def scenario(a: MemNode, b: MemNode) -> Answer:
        return await _not_shared(a, b, name, body)

    return scenario


async def _stale_epoch(a: MemNode, b: MemNode) -> Answer:
    return await ask(a, b.key, route("bodies"), bodies(epoch=bytes(16), positions=(1,), ids=()))


async def _key_taken(a: MemNode, b: MemNode) -> Answer:
    c = nacl.signing.SigningKey.generate()
    await a.store.peers.add(
        bytes(c.verify_key), "c", ("mem://c",), (bytes(32),),
        accept="relay", share=True, proxy=None, now=a.net.clock.now(),
    )  # fmt: skip
    statement = sign_rotation(b.key, c, a.net.clock.now()).envelope.to_bytes()
    return await ask(a, b.key, route("rotate"), statement)


async def _rotation_too_soon(a: MemNode, b: MemNode) -> Answer:
    first, second = nacl.signing.SigningKey.generate(), nacl.signing.SigningKey.generate()
    now = a.net.clock.now()
    taken = sign_rotation(b.key, first, now).envelope.to_bytes()
    assert (await ask(a, b.key, route("rotate"), taken))[0] == 204
    again = sign_rotation(first, second, now).envelope.to_bytes()
    return await ask(a, first, route("rotate"), again)


async def _statements_full(a: MemNode, b: MemNode) -> Answer:
    """Another node's statement passed on by ``b``, beyond what ``a`` keeps from it."""
    a.state.max_relayed_statements = 1
    now = a.net.clock.now()

    def relayed() -> bytes:
        old, new = nacl.signing.SigningKey.generate(), nacl.signing.SigningKey.generate()
        return sign_rotation(old, new, now).envelope.to_bytes()

    assert (await ask(a, b.key, route("rotate"), relayed()))[0] == 204
    return await ask(a, b.key, route("rotate"), relayed())


async def _stale_statement(a: MemNode, b: MemNode) -> Answer:
    now = a.net.clock.now()
    assert await a.store.peers.set_pins(b.pub, (bytes(32),), now)
    older = sign_pins(b.key, (bytes([1]) * 32,), now - 60).envelope.to_bytes()
    return await ask(a, b.key, route("pins"), older)


async def _stale_move(a: MemNode, b: MemNode) -> Answer:
    now = a.net.clock.now()
    assert await a.store.peers.set_urls(b.pub, ("https://b-new.example.org",), now)
    older = sign_move(b.key, ("https://b-old.example.org",), now - 60).envelope.to_bytes()
    return await ask(a, b.key, route("move"), older)


def now_of(a: MemNode) -> int:
    return a.net.clock.now()


# (route, code, field, scenario): the rows of the spec's table, one or more each.
CASES: list[tuple[str, str, str | None, Scenario]] = [
    ("changes", "not_shared", None, unshared("changes", changes())),
    ("changes", "invalid_field", "since", post("changes", lambda a, b: changes(since=-1))),
    ("changes", "invalid_field", "limit", post("changes", lambda a, b: changes(limit=1001))),
    ("changes", "invalid_field", "epoch", post("changes", lambda a, b: changes(epoch=bytes(3)))),
    ("changes", "invalid_field", "since", post("changes", lambda a, b: changes(since=5))),
    ("bodies", "not_shared", None, unshared("bodies", bodies())),
    ("bodies", "invalid_field", "epoch", post("bodies", lambda a, b: bodies(epoch=bytes(3)))),
    ("bodies", "invalid_field", "positions",
     post("bodies", lambda a, b: bodies(epoch=bytes(16), positions=(5, 0)))),
    ("bodies", "invalid_field", "ids", post("bodies", lambda a, b: bodies(ids=(b"x",)))),
    ("bodies", "invalid_field", "ids", post("bodies", lambda a, b: bodies(ids=(bytes(32),) * 2))),
    ("bodies", "invalid_field", "ids", post("bodies", lambda a, b: bodies(ids=()))),
    ("bodies", "invalid_field", "ids",
     post("bodies", lambda a, b: bodies(positions=(1,) * 200, ids=tuple(
         bytes([i]) * 32 for i in range(100))))),
    ("bodies", "invalid_field", "epoch",
     post("bodies", lambda a, b: bodies(positions=(1,), ids=()))),
    ("bodies", "too_large", None,
     post("bodies", lambda a, b: bodies(ids=tuple(bytes([i % 256, i // 256]) * 16
                                                  for i in range(257))))),
    ("bodies", "stale_epoch", None, _stale_epoch),
    ("ids", "not_shared", None, unshared("ids", pack({"after": None, "limit": 10}))),
    ("ids", "invalid_field", "after",
     post("ids", lambda a, b: pack({"after": bytes(3), "limit": 10}))),
    ("ids", "invalid_field", "limit", post("ids", lambda a, b: pack({"after": None, "limit": 0}))),
    ("poke", "invalid_field", "head", post("poke", lambda a, b: pack({"head": -1}))),
    ("poke", "invalid_field", "ext", post("poke", lambda a, b: pack(
        {"ext": {"org.alertnode:news": (b"\x01" * 32,)}, "head": None}
    ))),
    ("rotate", "bad_signature", None,
     post("rotate", lambda a, b: rotation(b.key, bytes(STRANGER.verify_key), now_of(a)))),
    ("rotate", "invalid_field", "old",
     post("rotate", lambda a, b: rotation(STRANGER, bytes(32), now_of(a), old=b.pub))),
    ("rotate", "invalid_field", "created",
     post("rotate", lambda a, b: sign_rotation(b.key, STRANGER, now_of(a) + 3600)
          .envelope.to_bytes())),
    ("rotate", "rotation_too_soon", None, _rotation_too_soon),
    ("rotate", "statements_full", None, _statements_full),
    ("rotate", "key_taken", None, _key_taken),
    ("pins", "invalid_field", "node",
     post("pins", lambda a, b: sign(Kind.PINS, pack({"v": 2, "node": b.pub, "pins": (bytes(32),),
                                                      "created": now_of(a)}), STRANGER)
          .to_bytes())),
    ("pins", "not_own_key", None,
     post("pins", lambda a, b: sign_pins(STRANGER, (bytes(32),), now_of(a)).envelope.to_bytes())),
    ("pins", "stale_statement", None, _stale_statement),
    ("move", "invalid_field", "node",
     post("move", lambda a, b: sign(Kind.MOVE, pack({"v": 2, "node": b.pub,
                                                     "urls": ("https://x.example.org",),
                                                     "created": now_of(a)}), STRANGER)
          .to_bytes())),
    ("move", "not_own_key", None,
     post("move", lambda a, b: sign_move(STRANGER, ("https://x.example.org",), now_of(a))
          .envelope.to_bytes())),
    ("move", "stale_statement", None, _stale_move),
    ("netkeys", "too_large", None, post("netkeys", lambda a, b: bytes(4097))),
    ("netkeys", "malformed", None, post("netkeys", lambda a, b: bytes(200))),
    ("netkeys", "bad_signature", None,
     post("netkeys", lambda a, b: netkeys(STRANGER, a.pub, now_of(a)))),
    ("netkeys", "invalid_field", "to",
     post("netkeys", lambda a, b: netkeys(b.key, a.pub, now_of(a), **{"from": bytes(32)}))),
    ("netkeys", "invalid_field", "to",
     post("netkeys", lambda a, b: netkeys(b.key, bytes(32), now_of(a), sealed_to=a.pub))),
    ("netkeys", "invalid_field", "v", post("netkeys", lambda a, b: netkeys(b.key, a.pub,
                                                                           now_of(a), v=3))),
    ("netkeys", "invalid_field", "created",
     post("netkeys", lambda a, b: netkeys(b.key, a.pub, now_of(a) + 301))),
    ("netkeys", "invalid_field", "keys",
     post("netkeys", lambda a, b: netkeys(b.key, a.pub, now_of(a), keys=((0, b"short"),)))),
]  # fmt: skip


# Scenarios that change the trust list before the refused request.
SETS_UP = {
    _key_taken,
    _stale_statement,
    _stale_move,
    _rotation_too_soon,
    _statements_full,
    *(c[3] for c in CASES if c[1] == "not_shared"),
}


@pytest.mark.parametrize(
    ("name", "code", "field", "scenario"),
    CASES,
    ids=[f"{c[0]}-{c[1]}-{c[2]}-{i}" for i, c in enumerate(CASES)],
)
async def test_each_route_refusal_has_its_code_status_and_field(
    memnet: MemNet, name: str, code: str, field: str | None, scenario: Scenario
) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    a.state.key_exchange = KeyExchange(a.key, Ring(), memnet.clock.now)
    await a.publish("one")
    before = await stored(a)
    status, doc, _ = await scenario(a, b)
    assert doc is not None, status
    assert (doc["code"], status, doc.get("field")) == (code, WIRE_CODES[code].status, field), doc
    if scenario not in SETS_UP:  # nothing stored changes (but what the scenario set up)
        assert await stored(a) == before


async def test_poke_rotate_pins_and_netkeys_ignore_share(memnet: MemNet) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    a.state.key_exchange = KeyExchange(a.key, Ring(), memnet.clock.now)
    await a.store.peers.set_policy(b.pub, share=False)
    now = memnet.clock.now()
    assert (await ask(a, b.key, route("poke"), pack({"head": None})))[0] == 204
    assert (await ask(a, b.key, route("netkeys"), netkeys(b.key, a.pub, now)))[0] == 200
    pins = sign_pins(b.key, (bytes(32),), now).envelope.to_bytes()
    assert (await ask(a, b.key, route("pins"), pins))[0] == 204
    new = nacl.signing.SigningKey.generate()
    rotated = sign_rotation(b.key, new, now).envelope.to_bytes()
    assert (await ask(a, b.key, route("rotate"), rotated))[0] == 204


def spec_rows() -> list[tuple[str, str, str, list[str]]]:
    """(route, code cell, status cell, fields) of each row of the spec's table."""
    text = SPEC.read_text(encoding="utf-8")
    section = text.split("### Refusals by route", 1)[1].split("\n### ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not cells[0].startswith("`"):
            continue
        fields = re.findall(r"`([a-z_]+)`", cells[4])
        rows.append((cells[0].strip("`"), cells[2], cells[3], fields))
    return rows


def test_the_spec_table_names_only_what_a_scenario_replays() -> None:
    rows = spec_rows()
    assert {r[0] for r in rows} == {"changes", "bodies", "ids", "poke", "rotate", "pins",
                                    "move", "netkeys"}  # fmt: skip
    replayed = {(name, code, field) for name, code, field, _ in CASES}
    for name, code_cell, status, fields in rows:
        code = re.fullmatch(r"`([a-z_]+)`", code_cell)
        if code is None:  # "(as above)" and "that step's": each field an invalid_field
            for field in fields:
                assert (name, "invalid_field", field) in replayed, (name, field)
            continue
        assert status == str(WIRE_CODES[code.group(1)].status), (name, code_cell)
        for field in fields or [None]:
            assert (name, code.group(1), field) in replayed, (name, code_cell, field)
