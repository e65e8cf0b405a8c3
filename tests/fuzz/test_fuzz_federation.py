"""Fuzzing a real node's federation port with correctly signed requests.

Each request is signed by a trusted peer for exactly its method, path and body, so it
passes authentication and reaches the route's handler (or the router) with an
arbitrary body: raw bytes, arbitrary msgpack, or maps with the route's own field names
and arbitrary values. Every answer must be 2xx or 4xx (never 5xx), the node must keep
serving, and nothing stored may change: alert and retraction counts, the feed and the
trust list are compared before and after.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from federation.quota import PeerRateLimiter
from node.app import Node
from protocol import feed
from protocol.encoding import pack
from protocol.errors import ProtocolError
from protocol.request import REQUEST_HEADER, sign_request
from tests.conftest import NodeFactory
from tests.federation.nodes import draft, pair
from tests.federation.test_requests import _ssl

ROUTES = ("changes", "bodies", "ids", "poke", "rotate", "pins", "netkeys")
FIELDS = {
    "changes": ("since", "limit", "epoch"),
    "bodies": ("positions", "ids", "epoch"),
    "ids": ("after", "limit"),
    "poke": ("head",),
    "rotate": ("v", "old", "new", "created", "proof"),
    "pins": ("v", "node", "pins", "created"),
    "netkeys": ("v", "from", "to", "keys", "created"),
}
EXAMPLES = 60
FED = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class Target:
    """Node A under attack, and B's key to sign with (B is a trusted, sharing peer)."""

    def __init__(self, a: Node, b: Node, http: aiohttp.ClientSession) -> None:
        self.a, self.b, self.http = a, b, http
        self.statuses: dict[int, int] = {}

    async def post(self, path: str, body: bytes, method: str = "POST") -> int:
        header = sign_request(
            self.b.unlocked().keys.signing,  # type: ignore[arg-type]
            method,
            path,
            body,
            bytes.fromhex(self.a.config.key),
            self.a.clock.now(),
            secrets.token_bytes(16),
        )
        url = self.a.unlocked().trust.url + path
        async with self.http.request(
            method, url, data=body, headers={REQUEST_HEADER: header}, ssl=_ssl()
        ) as resp:
            await resp.read()
            self.statuses[resp.status] = self.statuses.get(resp.status, 0) + 1
            return resp.status

    async def snapshot(self) -> dict[str, Any]:
        store = self.a.unlocked().store
        now = self.a.clock.now()
        rows = await store.alerts.feed(0, 10_000)
        peers = [(p.key, p.accept, p.share, p.suspended) for p in await store.peers.list()]
        return {
            "counts": await store.alerts.counts(now),
            "feed": [(r.pos, r.kind, r.id, r.hops) for r in rows],
            "peers": sorted(peers),
            "blocked": await store.peers.blocked_origins(),
        }


@pytest.fixture
async def target(make_node: NodeFactory) -> AsyncIterator[Target]:
    a = await make_node("A")
    b = await make_node("B")
    await pair(a, b)
    service = a.unlocked().alerts
    first = await service.publish(draft(1))
    await service.publish(draft(2, phone="+447700900123"))
    await service.retract(first, "mistaken")
    # The per-peer rate limit is tested elsewhere; here every request must reach a handler.
    a.unlocked().trust.server_state.limiter = PeerRateLimiter(1e9, 1e9)
    async with aiohttp.ClientSession() as http:
        t = Target(a, b, http)
        t.before = await t.snapshot()  # type: ignore[attr-defined]
        yield t
        assert await t.snapshot() == t.before  # type: ignore[attr-defined]
        # Still serving an honest, well-formed request.
        ok = feed.encode_changes_request(feed.ChangesRequest(0, 10))
        assert await t.post("/fed/v2/changes", ok) == 200
        print("STATUSES", t.statuses)
        assert not any(s >= 500 for s in t.statuses), t.statuses


def assert_answered(status: int, what: object) -> None:
    assert 200 <= status < 500, (status, what)


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64 - 1)
    | st.integers(-3, 1100)
    | st.text(max_size=12)
    | st.binary(max_size=40)
    | st.binary(min_size=16, max_size=16)
    | st.binary(min_size=32, max_size=32)
    | st.floats(allow_nan=False)
)
wire_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=30,
)


def encode(value: Any, canonical: bool) -> bytes | None:
    try:
        return pack(value) if canonical else msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]
    except (TypeError, ValueError, OverflowError):
        return None


@FED
@given(st.sampled_from(ROUTES), st.binary(max_size=600))
async def test_raw_bodies(target: Target, route: str, body: bytes) -> None:
    assert_answered(await target.post(f"/fed/v2/{route}", body), (route, body))


@FED
@given(st.sampled_from(ROUTES), wire_values, st.booleans())
async def test_arbitrary_msgpack_bodies(
    target: Target, route: str, value: Any, canonical: bool
) -> None:
    body = encode(value, canonical)
    if body is not None:
        assert_answered(await target.post(f"/fed/v2/{route}", body), (route, value))


@FED
@given(st.sampled_from(ROUTES), st.data())
async def test_maps_with_the_routes_own_fields(target: Target, route: str, data: Any) -> None:
    names = data.draw(st.lists(st.sampled_from(FIELDS[route]), unique=True), label="fields")
    value = {name: data.draw(wire_values, label=name) for name in names}
    if data.draw(st.booleans(), label="positions-like"):
        # Lists of plausible positions and ids reach the store's lookups.
        key = "positions" if route == "bodies" else names[0] if names else "since"
        value[key] = tuple(data.draw(st.lists(st.integers(-5, 2**63), max_size=300)))
    body = encode(value, data.draw(st.booleans(), label="canonical"))
    if body is not None:
        assert_answered(await target.post(f"/fed/v2/{route}", body), (route, value))


@FED
@given(
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=60),
    st.sampled_from(("POST", "GET", "PUT", "DELETE", "PATCH")),
    st.binary(max_size=64),
)
async def test_arbitrary_paths_and_methods(
    target: Target, tail: str, method: str, body: bytes
) -> None:
    path = "/fed/v2/" + tail
    if "#" in path:
        return  # a fragment never reaches the server
    try:
        status = await target.post(path, body, method)
    except (ValueError, aiohttp.InvalidURL):
        return  # the client itself refuses this URL
    assert_answered(status, (method, path))


positions = st.integers(0, feed.MAX_POS)
ids_ = st.binary(min_size=32, max_size=32)


@st.composite
def near_valid(draw: st.DrawFn) -> tuple[str, bytes]:
    """Well-formed messages with arbitrary values in range: they reach the store."""
    epoch = draw(st.none() | st.just(b"\x00" * 16) | st.binary(min_size=16, max_size=16))
    route = draw(st.sampled_from(("changes", "bodies", "ids", "poke")))
    message: Any
    if route == "changes":
        message = feed.ChangesRequest(draw(positions), draw(st.integers(0, 5000)), epoch)
    elif route == "bodies":
        pos = tuple(sorted(set(draw(st.lists(positions, max_size=feed.MAX_BATCH_IDS)))))
        message = feed.BodiesRequest(pos, tuple(draw(st.lists(ids_, max_size=20))), epoch)
    elif route == "ids":
        message = feed.IdsRequest(draw(st.none() | ids_), draw(st.integers(0, 5000)))
    else:
        message = feed.Poke(draw(st.none() | positions))
    encoder = getattr(feed, f"encode_{route}_request" if route != "poke" else "encode_poke")
    try:
        return route, encoder(message)
    except ProtocolError:
        return route, b""


@FED
@given(near_valid())
async def test_well_formed_requests_with_arbitrary_values(
    target: Target, case: tuple[str, bytes]
) -> None:
    route, body = case
    assert_answered(await target.post(f"/fed/v2/{route}", body), case)
