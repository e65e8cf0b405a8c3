"""Fuzzing the control socket: every route of the command table with arbitrary JSON.

Every answer must be a JSON object, either a result or ``{"error": sentence}``, and
never a 500 (an internal error). What each command reads comes from the table
(node/commands/), never a copy here. Valid random input may legitimately change state
(an alert published, an invite made), so the "changes nothing" checks make exactly one
argument wrong at a time, the others valid (the table's examples), so that a checked
argument can never hide an unchecked one. Arguments the table marks ``outside`` (a
valid value would act outside the test: wipe, key rotation, a backup path, a new
passphrase, pairing) only ever get values their kind refuses.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.app import Node
from node.commands.control import ROUTES
from node.commands.table import Arg, Command
from node.errors import UsageError
from tests.conftest import NodeFactory
from tests.federation.nodes import draft, pair

# Every route except "stop", which would stop the test's node.
FUZZED: dict[str, Command] = {name: c for name, c in ROUTES.items() if name != "stop"}
ARGS: dict[str, tuple[Arg, ...]] = {name: c.args for name, c in FUZZED.items()}
SETTINGS = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def refused(arg: Arg, value: Any) -> bool:
    """Whether the table refuses ``value`` for ``arg`` (a confirmation refuses false)."""
    if value is None:  # null is absent: the default applies
        return arg.required
    try:
        checked = arg.kind.check(arg.name, value)
    except UsageError:
        return True
    return checked is False and getattr(arg.kind, "only_true", False)


def examples(command: Command) -> dict[str, Any]:
    return {arg.name: arg.valid_example() for arg in command.args}


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
            "pairing": self.node.pairing.active,
            "key": self.node.config.key,
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


@st.composite
def commands(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(sorted(FUZZED)))
    args: dict[str, Any] = {}
    for arg in ARGS[name]:
        if arg.outside:
            # Absent is safe only where absence acts on nothing (no default that acts).
            if arg.default is None and draw(st.booleans()):
                continue
            args[arg.name] = draw(values.filter(lambda v, a=arg: refused(a, v)))
        elif draw(st.booleans()):
            args[arg.name] = draw(values)
    args |= draw(
        st.dictionaries(st.text(max_size=6), values, max_size=2).map(
            lambda extra: {k: v for k, v in extra.items() if k not in args}
        )
    )
    for arg in ARGS[name]:
        assert not arg.outside or arg.name not in args or refused(arg, args[arg.name])
    return name, args


@SETTINGS
@given(commands(json_values))
async def test_arbitrary_arguments_never_cause_an_internal_error(
    socket: Socket, case: tuple[str, dict[str, Any]]
) -> None:
    name, args = case
    await socket.call(name, json.dumps(args).encode())


# Near-valid: the table's examples with one or two values changed, for the commands
# none of whose arguments acts outside the test.
NEAR: dict[str, Command] = {
    name: c for name, c in FUZZED.items() if c.args and not any(a.outside for a in c.args)
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
    name = draw(st.sampled_from(sorted(NEAR)))
    args = examples(NEAR[name])
    args.pop("supersedes", None)  # an unknown id refuses the whole alert
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


# Every (command, argument, value its kind refuses), from the table.
ONE_WRONG = [
    (name, arg.name, value)
    for name, command in sorted(FUZZED.items())
    for arg in command.args
    for value in arg.kind.wrong()
]


async def assert_one_wrong_refused(socket: Socket, name: str, key: str, value: Any) -> None:
    args = examples(FUZZED[name]) | {key: value}
    before = await socket.snapshot()
    status, answer = await socket.call(name, json.dumps(args).encode())
    assert status == 400, (name, key, value, answer)
    # The refusal names the wrong argument: no other argument was the reason.
    assert key in answer["error"], (name, key, value, answer)
    assert await socket.snapshot() == before, (name, key, value)


def test_every_argument_has_wrong_values() -> None:
    bare = [(n, a.name) for n, c in FUZZED.items() for a in c.args if not a.kind.wrong()]
    assert bare == [] and len(ONE_WRONG) > 100


async def test_one_argument_of_the_wrong_kind_changes_nothing(socket: Socket) -> None:
    # One node pair for all of them (a fixture per case would take minutes).
    for name, key, value in ONE_WRONG:
        await assert_one_wrong_refused(socket, name, key, value)


WRONG_ONE = st.sampled_from([(n, a) for n, c in sorted(FUZZED.items()) for a in c.args])


@SETTINGS
@given(WRONG_ONE, invalid_values)
async def test_one_argument_of_any_wrong_type_changes_nothing(
    socket: Socket, target: tuple[str, Arg], value: Any
) -> None:
    name, arg = target
    await assert_one_wrong_refused(socket, name, arg.name, value)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.sampled_from(sorted(FUZZED)),
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
