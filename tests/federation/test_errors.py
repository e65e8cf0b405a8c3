"""Every refusal a peer can trigger, on the in-memory network: each answers with its
documented code and status as a msgpack map, with Retry-After where waiting helps,
changes nothing stored, and says nothing of the libraries behind it. The client side
keeps the code, and a peer's failures and refused items show in the trust list."""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgpack
import nacl.signing
import pytest

from federation.errors import CODES, LOCAL_CODES, WIRE_CODES, PeerRefused, parse_refusal
from federation.quota import PeerRateLimiter
from federation.server import NOT_FOUND_TEXT
from node.network.trust import peer_status
from protocol import errors as perrors
from protocol import feed
from protocol.card import b64url_encode
from protocol.encoding import pack
from protocol.request import REQUEST_HEADER, sign_request
from tests.federation.memnet import MemNet, MemNode

LEAKS = ("max_array_len", "max_bin_len", "max_str_len", "exceeds", "extradata", "traceback",
         "msgpack", "unpack", "valueerror", "formaterror", "exception")  # fmt: skip
STRANGER = nacl.signing.SigningKey(b"\x42" * 32)
CHANGES = "/fed/v2/changes"
ASK = feed.encode_changes_request(feed.ChangesRequest(0, 10))


async def ask(
    server_node: MemNode,
    signer: nacl.signing.SigningKey,
    path: str = CHANGES,
    body: bytes = ASK,
    *,
    method: str = "POST",
    header: str | None = None,
    now: int | None = None,
    dest: bytes | None = None,
    signed_path: str | None = None,
) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
    """One request to ``server_node``'s federation logic: (status, refusal map, headers)."""
    if header is None:
        header = sign_request(
            signer, method, signed_path or path, body, dest or server_node.pub,
            server_node.net.clock.now() if now is None else now, secrets.token_bytes(16),
        )  # fmt: skip
    server = server_node.net.network.servers[server_node.addr]
    reply = await server.handle(method, path, {REQUEST_HEADER: header}, body)
    if reply.status < 300:
        return reply.status, None, dict(reply.headers)
    assert reply.content_type == "application/msgpack"
    doc = msgpack.unpackb(reply.body, raw=False)
    assert isinstance(doc, dict) and set(doc) <= {"code", "message", "field"}
    return reply.status, doc, dict(reply.headers)


async def stored(node: MemNode) -> object:
    peers = [
        (p.key, p.suspended, p.share, p.cursor, p.epoch) for p in await node.store.peers.list()
    ]
    return await node.store.alerts.counts(node.net.clock.now()), peers


def leaks(message: str) -> list[str]:
    return [word for word in LEAKS if word in message.lower()]


Answer = tuple[int, dict[str, Any] | None, dict[str, str]]
# A scenario sets the stage, then returns the one request that is refused.
Scenario = Callable[[MemNode, MemNode], Awaitable[Callable[[], Awaitable[Answer]]]]


async def _malformed(a: MemNode, b: MemNode) -> Any:
    return lambda: ask(a, b.key, body=b"\xc1\xff\x00")


async def _malformed_header(a: MemNode, b: MemNode) -> Any:
    return lambda: ask(a, b.key, header="not-base64!")


async def _empty_header(a: MemNode, b: MemNode) -> Any:
    # Present, so not a stranger's plain 404; empty, so no signature at all.
    return lambda: ask(a, b.key, header="")


async def _trailing_bytes(a: MemNode, b: MemNode) -> Any:
    return lambda: ask(a, b.key, body=ASK + b"\x00")


async def _invalid_field(a: MemNode, b: MemNode) -> Any:
    return lambda: ask(a, b.key, body=pack({"limit": 0, "since": 0}))


async def _unsupported_extension(a: MemNode, b: MemNode) -> Any:
    body = pack(
        {"limit": 10, "since": 0, "ext": {"org.example:new-rule": 1},
         "must_understand": ["org.example:new-rule"]}
    )  # fmt: skip
    return lambda: ask(a, b.key, body=body)


async def _too_large(a: MemNode, b: MemNode) -> Any:
    return lambda: ask(a, b.key, body=b"\x00" * (feed.MAX_BODIES_REQUEST_BYTES + 1))


async def _too_long_array(a: MemNode, b: MemNode) -> Any:
    body = pack({"ids": tuple(bytes(32) for _ in range(feed.MAX_BATCH_IDS + 1))})
    return lambda: ask(a, b.key, "/fed/v2/bodies", body)


async def _unsupported_version(a: MemNode, b: MemNode) -> Any:
    now = a.net.clock.now()
    header = b64url_encode(pack((9, b.pub, now, bytes(16), bytes(64))))
    return lambda: ask(a, b.key, header=header)


async def _bad_signature(a: MemNode, b: MemNode) -> Any:
    return lambda: ask(a, b.key, dest=b.pub)


async def _clock_skew(a: MemNode, b: MemNode) -> Any:
    return lambda: ask(a, b.key, now=a.net.clock.now() - 600)


async def _replayed(a: MemNode, b: MemNode) -> Any:
    header = sign_request(b.key, "POST", CHANGES, ASK, a.pub, a.net.clock.now(), bytes(16))
    assert (await ask(a, b.key, header=header))[0] == 200
    return lambda: ask(a, b.key, header=header)


async def _unknown_node(a: MemNode, b: MemNode) -> Any:
    return lambda: ask(a, STRANGER)


async def _suspended(a: MemNode, b: MemNode) -> Any:
    await a.store.peers.set_policy(b.pub, suspended=True)
    return lambda: ask(a, b.key)


async def _not_shared(a: MemNode, b: MemNode) -> Any:
    await a.store.peers.set_policy(b.pub, share=False)
    return lambda: ask(a, b.key)


async def _stale_epoch(a: MemNode, b: MemNode) -> Any:
    body = feed.encode_bodies_request(feed.BodiesRequest(positions=(1,), epoch=bytes(16)))
    return lambda: ask(a, b.key, "/fed/v2/bodies", body)


async def _not_found(a: MemNode, b: MemNode) -> Any:
    return lambda: ask(a, b.key, "/fed/v2/nothing-here")


async def _method_not_allowed(a: MemNode, b: MemNode) -> Any:
    return lambda: ask(a, b.key, method="PUT")


async def _rate_limited(a: MemNode, b: MemNode) -> Any:
    a.state.limiter = PeerRateLimiter(rate_per_s=0.5, burst=1)
    assert (await ask(a, b.key))[0] == 200
    return lambda: ask(a, b.key)


async def _locked(a: MemNode, b: MemNode) -> Any:
    a.state.locked = lambda: True
    return lambda: ask(a, b.key)


async def _not_own_key(a: MemNode, b: MemNode) -> Any:
    from protocol.pins import sign_pins

    statement = sign_pins(STRANGER, (bytes(32),), a.net.clock.now())
    return lambda: ask(a, b.key, "/fed/v2/pins", statement.envelope.to_bytes())


async def _rotation_too_soon(a: MemNode, b: MemNode) -> Any:
    from protocol.rotation import sign_rotation

    now = a.net.clock.now()
    first, second = nacl.signing.SigningKey.generate(), nacl.signing.SigningKey.generate()
    taken = sign_rotation(b.key, first, now).envelope.to_bytes()
    assert (await ask(a, b.key, "/fed/v2/rotate", taken))[0] == 204
    again = sign_rotation(first, second, now).envelope.to_bytes()
    return lambda: ask(a, first, "/fed/v2/rotate", again)


async def _statements_full(a: MemNode, b: MemNode) -> Any:
    from protocol.rotation import sign_rotation

    a.state.max_relayed_statements = 1
    now = a.net.clock.now()

    def relayed() -> bytes:
        old, new = nacl.signing.SigningKey.generate(), nacl.signing.SigningKey.generate()
        return sign_rotation(old, new, now).envelope.to_bytes()

    assert (await ask(a, b.key, "/fed/v2/rotate", relayed()))[0] == 204
    extra = relayed()
    return lambda: ask(a, b.key, "/fed/v2/rotate", extra)


async def _key_taken(a: MemNode, b: MemNode) -> Any:
    from protocol.rotation import sign_rotation

    c = nacl.signing.SigningKey.generate()
    await a.store.peers.add(
        bytes(c.verify_key), "c", ("mem://c",), (bytes(32),),
        accept="relay", share=True, proxy=None, now=a.net.clock.now(),
    )  # fmt: skip
    statement = sign_rotation(b.key, c, a.net.clock.now())
    return lambda: ask(a, b.key, "/fed/v2/rotate", statement.envelope.to_bytes())


async def _stale_statement(a: MemNode, b: MemNode) -> Any:
    from protocol.pins import sign_pins

    now = a.net.clock.now()
    newer = sign_pins(b.key, (bytes(32),), now)
    assert await a.store.peers.set_pins(newer.body.node, newer.body.pins, newer.body.created)
    older = sign_pins(b.key, (bytes([1]) * 32,), now - 3600)
    return lambda: ask(a, b.key, "/fed/v2/pins", older.envelope.to_bytes())


# (scenario, code, field, Retry-After expected)
CASES: list[tuple[Scenario, str, str | None, bool]] = [
    (_malformed, "malformed", None, False),
    (_malformed_header, "malformed", None, False),
    (_trailing_bytes, "malformed", None, False),
    (_invalid_field, "invalid_field", "limit", False),
    (_unsupported_extension, "unsupported_extension", "org.example:new-rule", False),
    (_too_large, "too_large", None, False),
    (_too_long_array, "too_large", None, False),
    (_unsupported_version, "unsupported_version", None, False),
    (_bad_signature, "bad_signature", None, False),
    (_empty_header, "bad_signature", None, False),
    (_clock_skew, "clock_skew", "timestamp", False),
    (_replayed, "replayed", None, False),
    (_unknown_node, "unknown_node", None, False),
    (_suspended, "suspended", None, False),
    (_not_shared, "not_shared", None, False),
    (_stale_epoch, "stale_epoch", None, False),
    (_not_found, "not_found", None, False),
    (_method_not_allowed, "method_not_allowed", None, False),
    (_rate_limited, "rate_limited", None, True),
    (_locked, "locked", None, True),
    (_not_own_key, "not_own_key", None, False),
    (_key_taken, "key_taken", None, False),
    (_rotation_too_soon, "rotation_too_soon", None, True),
    (_statements_full, "statements_full", None, False),
    (_stale_statement, "stale_statement", None, False),
]


@pytest.mark.parametrize(
    ("scenario", "code", "field", "waits"), CASES, ids=[c[0].__name__[1:] for c in CASES]
)
async def test_each_refusal_has_its_code_and_status(
    memnet: MemNet, scenario: Scenario, code: str, field: str | None, waits: bool
) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    await a.publish("one")
    refused = await scenario(a, b)
    before = await stored(a)
    status, doc, headers = await refused()
    assert doc is not None, status
    assert doc["code"] == code and status == WIRE_CODES[code].status, (status, doc)
    assert doc.get("field") == field
    assert doc["message"] and not leaks(doc["message"]), doc["message"]
    if waits:
        assert int(headers["Retry-After"]) >= 1
    else:
        assert "Retry-After" not in headers
    assert await stored(a) == before


def test_every_wire_code_has_a_scenario_or_cannot_come_from_a_peer() -> None:
    covered = {code for _, code, _, _ in CASES}
    # internal: a failure of the node itself; invalid_request: a LocalProtocolError,
    # which no decoder raises for a peer's bytes.
    assert set(WIRE_CODES) - covered == {"internal", "invalid_request"}


async def test_a_request_without_the_header_gets_a_plain_404(memnet: MemNet) -> None:
    a = await memnet.node("a")
    server = memnet.network.servers[a.addr]
    a.state.locked = lambda: True  # not even "locked" is said to a stranger
    for method, path in (("POST", CHANGES), ("GET", "/"), ("GET", "/fed/v2/x"), ("PUT", "/a?b")):
        reply = await server.handle(method, path, {}, b"x" * 10)
        assert (reply.status, reply.content_type, reply.body) == (
            404, "text/plain", NOT_FOUND_TEXT.encode()
        )  # fmt: skip
        assert REQUEST_HEADER.lower() not in reply.body.decode().lower()
    # Too large and unsigned: still only a 404, before any reading.
    assert server.refuse_early({}, 10**9) is not None
    early = server.refuse_early({}, 10**9)
    assert early is not None and early.status == 404


def test_protocol_errors_have_documented_codes() -> None:
    expected = {
        perrors.LimitExceeded: "too_large",
        perrors.MalformedObject: "malformed",
        perrors.UnsupportedVersion: "unsupported_version",
        perrors.BadSignature: "bad_signature",
        perrors.InvalidField: "invalid_field",
        perrors.ClockSkew: "clock_skew",
        perrors.LocalProtocolError: "invalid_request",
        perrors.InvalidIndicator: "invalid_field",
    }
    for cls, code in expected.items():
        assert cls.code == code and code in WIRE_CODES
        if issubclass(cls, perrors.RemoteProtocolError):
            # The status hint the protocol package gives is the one on the wire.
            assert cls.status == WIRE_CODES[code].status, cls


def test_every_code_is_in_the_spec_table() -> None:
    spec = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    rows = dict(re.findall(r"^\| `([a-z_]+)` +\| +(\d{3}|-) ", spec, re.M))
    assert set(rows) == set(CODES)
    for code, info in WIRE_CODES.items():
        assert rows[code] == str(info.status), code
    for code in LOCAL_CODES:
        assert rows[code] == "-", code


def test_the_client_keeps_code_field_and_retry_after() -> None:
    body = pack({"code": "invalid_field", "field": "limit", "message": "limit:\x1b[2J too\nbig"})
    refused = parse_refusal(422, body, "7")
    assert (refused.code, refused.field, refused.retry_after) == ("invalid_field", "limit", 7)
    assert refused.message == "limit: [2J too big" and not refused.retryable
    assert parse_refusal(429, pack({"code": "rate_limited", "message": "x"}), None).retryable
    # Not a refusal map (an old node, a proxy's page): no peer text, a local code.
    odd = parse_refusal(404, b"<html>Not Found</html>", "soon")
    assert (odd.code, odd.retry_after, odd.status) == ("bad_response", None, 404)
    assert "html" not in odd.message.lower()
    # A code that is not a short snake_case word is not believed.
    assert parse_refusal(400, pack({"code": "X" * 50, "message": "m"}), None).code == "bad_response"


def test_the_client_keeps_an_extension_key_as_the_field_and_ignores_other_keys() -> None:
    """unsupported_extension names the extension key, which is no snake_case word;
    a key a later version adds to the refusal map is ignored, not fatal."""
    body = pack({"code": "unsupported_extension", "field": "org.example:new-rule",
                 "message": "org.example:new-rule: not understood"})  # fmt: skip
    assert parse_refusal(422, body, None).field == "org.example:new-rule"
    later = pack({"code": "invalid_field", "field": "limit", "message": "m",
                  "org.example:hint": "ask for fewer", "retry": 3})  # fmt: skip
    refused = parse_refusal(422, later, None)
    assert (refused.code, refused.field) == ("invalid_field", "limit")
    # A field that is neither a word nor an extension key is dropped; the code stays.
    odd = parse_refusal(
        422, pack({"code": "invalid_field", "field": "Bad Field!", "message": "m"}), None
    )
    assert (odd.code, odd.field) == ("invalid_field", None)


async def test_a_failed_pull_records_its_code_until_one_succeeds(memnet: MemNet) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    await a.store.peers.set_policy(b.pub, suspended=True)
    result = await b.pull(a)
    assert (result.error_code, result.retry_after) == ("suspended", None)
    (peer, stats) = (await b.store.peers.list_with_stats())[0]
    assert stats["last_error"] == {
        "code": "suspended", "message": result.error, "at": memnet.clock.now(),
    }  # fmt: skip
    assert peer_status(peer, stats) == "error"
    await a.store.peers.set_policy(b.pub, suspended=False)
    assert (await b.pull(a)).error is None
    (peer, stats) = (await b.store.peers.list_with_stats())[0]
    assert stats["last_error"] is None and peer_status(peer, stats) == "ok"


async def test_a_locked_peer_says_how_long_to_wait(memnet: MemNet) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    a.state.locked = lambda: True
    result = await b.pull(a)
    assert result.error_code == "locked" and result.retry_after == 60
    with pytest.raises(PeerRefused) as refused:
        await b.transport.post(await b.peer(a), "/changes", ASK, 1024)
    assert refused.value.retryable and refused.value.status == 503


async def test_a_peer_whose_every_item_is_refused_is_not_ok(memnet: MemNet) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    for n in range(3):
        await a.publish(f"alert {n}")
    await b.store.peers.block_origin(a.pub, memnet.clock.now())
    result = await b.pull(a)
    assert result.error is None and result.stored == 0 and result.refused == 3
    (peer, stats) = (await b.store.peers.list_with_stats())[0]
    assert stats["refused"] == {
        "count": 3, "last_pull": 3, "last": {"code": "blocked_origin", "at": memnet.clock.now()},
    }  # fmt: skip
    assert stats["last_error"] is None
    assert peer_status(peer, stats) == "refusing items"
    # Unblocked, the next pull stores what is new and the peer is ok; the count stays.
    await b.store.peers.unblock_origin(a.pub)
    await a.publish("alert 3")
    result = await b.pull(a)
    assert result.refused == 0 and result.stored == 1
    (peer, stats) = (await b.store.peers.list_with_stats())[0]
    assert stats["refused"]["count"] == 3 and stats["refused"]["last_pull"] == 0
    assert peer_status(peer, stats) == "ok"


@pytest.mark.parametrize(
    "junk",
    [b"", b"\xc1", b"\x00\x00", b"\xdd\xff\xff\xff\xff", b"\x91" * 300 + b"\xc0",
     b"\xdb\xff\xff\xff\xff", b"\xc7\x01\x05x", b"\xcb" + bytes(8), pack({"z": 1, "a": 2})[::-1]],
)  # fmt: skip
async def test_no_refusal_quotes_a_library(memnet: MemNet, junk: bytes) -> None:
    a, b = await memnet.node("a"), await memnet.node("b")
    await memnet.pair(a, b)
    for path in (CHANGES, "/fed/v2/bodies", "/fed/v2/ids", "/fed/v2/poke", "/fed/v2/rotate"):
        status, doc, _ = await ask(a, b.key, path, junk)
        assert doc is not None and status >= 400
        assert not leaks(doc["message"]), (path, junk, doc)
