"""Fuzzing the control socket: every registered command with arbitrary JSON.

Every answer must be a JSON object, either a result or ``{"error": sentence}``, and
never a 500 (an internal error). Valid random input may legitimately change state (an
alert published, an invite made), so the "changes nothing" check runs only where the
input is invalid by type: every argument the command reads given a float, a map or a
list of those. Commands that would reach outside the test are given only such values:
``wipe`` and ``key.rotate`` never get ``confirm: true``, ``backup.create`` never a
path, ``passphrase.change`` never a new passphrase, ``pair.start`` never a number of
seconds.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node import control
from node.app import Node
from tests.conftest import NodeFactory
from tests.federation.nodes import draft, pair

# The arguments each command reads (from node/control*.py).
ARGS: dict[str, tuple[str, ...]] = {
    "status": (),
    "unlock": ("passphrase",),
    "alert.publish": (
        "categories",
        "danger",
        "region",
        "indicators",
        "description",
        "lang",
        "hops",
        "tlp",
        "expires_days",
        "incident",
        "supersedes",
    ),
    "alert.list": ("region", "limit"),
    "alert.retract": ("id", "reason"),
    "check": ("kind", "value"),
    "invite.create": ("role", "days"),
    "stop": (),
    "card": (),
    "peer.add": ("card", "accept", "share", "proxy"),
    "peer.list": (),
    "peer.set": ("peer", "accept", "share", "suspended"),
    "peer.remove": ("peer", "purge"),
    "peer.block": ("origin", "purge"),
    "peer.unblock": ("origin",),
    "sync": (),
    "key.rotate": ("confirm",),
    "passphrase.change": ("old", "new"),
    "backup.create": ("out",),
    "wipe": ("confirm",),
    "pair.start": ("seconds", "interfaces"),
    "pair.status": (),
    "pair.accept": ("key", "accept", "share"),
    "pair.stop": (),
}
# Arguments that, valid, would act outside the test: only invalid types are sent.
OUTSIDE = {
    "backup.create": {"out"},
    "passphrase.change": {"new"},
    "wipe": {"confirm"},
    "key.rotate": {"confirm"},
    "pair.start": {"seconds"},
}
# Commands that only read: they may ignore an argument they cannot use.
READ_ONLY = {"status", "alert.list", "card", "peer.list", "pair.status", "pair.stop"}
SETTINGS = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def test_every_registered_command_is_fuzzed() -> None:
    control.control_app  # noqa: B018  (importing it registers every command)
    from node import control_federation, control_ops, control_pairing  # noqa: F401

    assert set(control.COMMANDS) == set(ARGS)


class Socket:
    def __init__(self, node: Node, http: aiohttp.ClientSession) -> None:
        self.node, self.http = node, http
        self.statuses: dict[int, int] = {}

    async def call(self, name: str, body: bytes) -> tuple[int, Any]:
        async with self.http.post(
            f"http://alertnode/v1/{name}",
            data=body,
            headers={"Content-Type": "application/json"},
        ) as resp:
            text = await resp.text()
            self.statuses[resp.status] = self.statuses.get(resp.status, 0) + 1
            assert resp.status != 500, (name, body, text)
            answer = json.loads(text)
            assert isinstance(answer, dict), (name, body, text)
            if resp.status >= 300:
                assert set(answer) == {"error"} and isinstance(answer["error"], str)
                assert "Traceback" not in answer["error"]
            return resp.status, answer

    async def snapshot(self) -> dict[str, Any]:
        store = self.node.unlocked().store
        now = self.node.clock.now()
        return {
            "counts": await store.alerts.counts(now),
            "feed": [(r.pos, r.kind, r.id) for r in await store.alerts.feed(0, 10_000)],
            "peers": sorted(
                (p.key, p.accept, p.share, p.suspended) for p in await store.peers.list()
            ),
            "blocked": await store.peers.blocked_origins(),
            "members": [(m.id, m.role) for m in await store.members.list()],
            "invites": len(await store.members.list_invites(now)),
            "settings": await store.settings.all(),
        }


@pytest.fixture
async def socket(make_node: NodeFactory) -> AsyncIterator[Socket]:
    a = await make_node("A")
    b = await make_node("B")
    await pair(a, b)
    await a.unlocked().alerts.publish(draft(1, phone="+447700900123"))
    connector = aiohttp.UnixConnector(path=str(a.data_dir / "control.sock"))
    async with aiohttp.ClientSession(connector=connector) as http:
        s = Socket(a, http)
        yield s
        # The node still answers.
        status, answer = await s.call("status", b"{}")
        assert status == 200 and answer["locked"] is False


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.integers(-2, 400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(("", "B", "violence", "GB", "phone", "+447700900123", "relay", "0" * 64))
    # Lone surrogates: valid JSON ("\ud800"), but not encodable as UTF-8.
    | st.sampled_from(("\ud800", "x\udfff", "+44\ud800"))
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
invalid_values = st.recursive(
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: f != int(f))
    | st.dictionaries(st.text(max_size=4), st.none() | st.floats(allow_nan=False), max_size=2),
    lambda inner: st.lists(inner, min_size=1, max_size=3),
    max_leaves=4,
)


def _safe(name: str, args: dict[str, Any]) -> bool:
    """No argument in OUTSIDE[name] carries a value that would act outside the test."""
    for key in OUTSIDE.get(name, ()):
        value = args.get(key)
        if key == "confirm" and value is True:
            return False
        if key in ("out", "new") and isinstance(value, str):
            return False
        if key == "seconds" and (value is None or isinstance(value, int)):
            return False
    return True


@st.composite
def commands(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(sorted(ARGS)))
    keys = draw(st.lists(st.sampled_from(ARGS[name]), unique=True)) if ARGS[name] else []
    args = {key: draw(values) for key in keys}
    args |= draw(st.dictionaries(st.text(max_size=6), values, max_size=2))
    if name == "pair.start":
        args["seconds"] = draw(invalid_values)
    if not _safe(name, args):
        args = {k: v for k, v in args.items() if k not in OUTSIDE[name]}
    return name, args


@SETTINGS
@given(commands(json_values))
async def test_arbitrary_arguments_never_cause_an_internal_error(
    socket: Socket, case: tuple[str, dict[str, Any]]
) -> None:
    name, args = case
    if name == "stop":
        return  # it only asks the node to stop; the test's node must keep running
    await socket.call(name, json.dumps(args).encode())


# Each command's valid arguments; the near-valid strategy changes one or two of them.
B_KEY = "ab" * 32
VALID: dict[str, dict[str, Any]] = {
    "unlock": {"passphrase": "anything"},
    "alert.publish": {
        "categories": ["violence"],
        "danger": 3,
        "region": "GB",
        "indicators": [["phone", "+447700900123"]],
        "description": "Refused to pay.",
        "lang": "en",
        "hops": 1,
        "tlp": "GREEN",
        "expires_days": 30,
        "incident": None,
    },
    "alert.list": {"region": "GB", "limit": 10},
    "alert.retract": {"id": "00" * 32, "reason": "mistaken"},
    "check": {"kind": "phone", "value": "+447700900123"},
    "invite.create": {"role": "member", "days": 3},
    "peer.add": {"card": "alertnode-card:1:AAAA", "accept": "relay", "share": True},
    "peer.set": {"peer": "B", "accept": "relay", "share": True, "suspended": False},
    "peer.remove": {"peer": "nobody", "purge": False},
    "peer.block": {"origin": B_KEY, "purge": False},
    "peer.unblock": {"origin": B_KEY},
    "pair.accept": {"key": B_KEY, "accept": "relay", "share": True},
}
awkward = st.sampled_from(
    (
        2**70,
        -(2**70),
        2**63,
        2**53 + 1,
        -1,
        0,
        1.5,
        None,
        True,
        "",
        "\ud800",
        "GB\udfff",
        "x" * 5000,
        "0" * 64,
        [],
        {},
        [[[]]],
        ["violence", None],
        [["phone"]],
        [["other", "abc\ud800"]],
        [["email", 2**70]],
    )
)


@st.composite
def near_valid(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(sorted(VALID)))
    args = dict(VALID[name])
    for _ in range(draw(st.integers(1, 2))):
        key = draw(st.sampled_from(sorted(args) or ["extra"]))
        if draw(st.integers(0, 4)) == 0:
            args.pop(key, None)
        else:
            args[key] = draw(awkward | json_scalars)
    return name, args


@settings(SETTINGS, max_examples=400)
@given(near_valid())
async def test_valid_arguments_with_one_or_two_awkward_values(
    socket: Socket, case: tuple[str, dict[str, Any]]
) -> None:
    name, args = case
    await socket.call(name, json.dumps(args).encode())


@SETTINGS
@given(commands(invalid_values))
async def test_arguments_of_the_wrong_type_change_nothing(
    socket: Socket, case: tuple[str, dict[str, Any]]
) -> None:
    name, args = case
    if name in ("stop", "sync") or not set(args) & set(ARGS[name]):
        return  # nothing to refuse: the command reads no argument, or none was given
    before = await socket.snapshot()
    status, answer = await socket.call(name, json.dumps(args).encode())
    assert status >= 400 or name in READ_ONLY, (name, args, answer)
    assert await socket.snapshot() == before, (name, args)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.sampled_from(sorted(ARGS)),
    st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()),
)
async def test_bodies_that_are_not_json_objects(socket: Socket, name: str, body: bytes) -> None:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        value = None
    if isinstance(value, dict) or body == b"":
        return  # covered above (an empty body is read as {})
    before = await socket.snapshot()
    status, _ = await socket.call(name, body)
    assert status == 400 or (status == 200 and body == b""), (name, body)
    assert await socket.snapshot() == before
