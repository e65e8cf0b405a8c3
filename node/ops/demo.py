"""``alertnode demo``: a small network of real nodes on loopback, for showing and trying.

Rule: everything the demo makes lives in one temporary directory that is removed when
the demo ends, however it ends (Ctrl-C, SIGTERM, an error). The nodes are ordinary
nodes in test mode (key file, plain HTTP on loopback), paired as organisations would
pair: a ring with a few chords, every edge accepting relayed alerts.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from .. import config as config_mod
from ..errors import UsageError

if TYPE_CHECKING:
    from ..app import Node

MIN_NODES = 3
MAX_NODES = 12
PROPAGATION_TIMEOUT_S = 60.0
POLL_S = 0.05
INVITE_DAYS = 7

# Fictional organisations and regions.
NODES = (
    ("Lighthouse Collective", "GB-LND"),
    ("Les Amies du Quai", "FR-75"),
    ("Colectivo Faro", "ES-M"),
    ("Rede Farol", "PT-11"),
    ("Asociatia Far", "RO-B"),
    ("Mayak Project", "GB-MAN"),
    ("Harbour Night Line", "IE-D"),
    ("Nachtlicht", "DE-BE"),
    ("Faro Notturno", "IT-RM"),
    ("Vuurtoren", "NL-NH"),
    ("Latarnia", "PL-MZ"),
    ("Fyret", "SE-AB"),
)

# Sample alerts: (language, categories, danger, indicator, description). Numbers are
# from ranges reserved for fiction; the text describes no one.
SAMPLES: tuple[tuple[str, tuple[str, ...], int, tuple[str, str], str], ...] = (
    (
        "en",
        ("violence",),
        3,
        ("phone", "+447700900123"),
        "Became aggressive when asked for payment; grey estate car.",
    ),
    (
        "fr",
        ("non-payment",),
        2,
        ("email", "client.demo@example.com"),
        "A refusé de payer et a menacé de publier des photos.",
    ),
    (
        "es",
        ("condom-refusal",),
        2,
        ("handle", "demo:cliente_ficticio"),
        "Se quitó el preservativo sin consentimiento.",
    ),
    (
        "pt",
        ("recording",),
        2,
        ("plate", "DEMO 123"),
        "Gravou sem consentimento com o telemóvel escondido.",
    ),
    (
        "ro",
        ("police-impersonation",),
        3,
        ("phone", "+447700900456"),
        "S-a prezentat drept poliţist şi a cerut bani.",
    ),
    (
        "ru",
        ("stalking",),
        2,
        ("email", "demo.stalker@example.org"),
        "Преследовал после встречи, ждал у подъезда.",  # noqa: RUF001
    ),
)


ROLES = ("member", "caseworker", "admin")
TRY_LABELS = {"phone": "phone number", "email": "e-mail", "handle": "handle", "plate": "plate"}


def try_these() -> str:
    """What to type on a node's Check page: the identifiers the demo's alerts name."""
    lines = ["\nTry these on any node's Check page (each matches an alert every node holds):"]
    for _lang, _categories, danger, (kind, value), _text in SAMPLES:
        lines.append(f"  {TRY_LABELS[kind]:<13} {value}  (danger {danger})")
    lines.append("  and anything else, like +447700900999, to see what no match looks like.")
    return "\n".join(lines)


def trust_edges(n: int) -> list[tuple[int, int]]:
    """A ring plus chords across it: every node has two or three peers."""
    edges = {(i, (i + 1) % n) for i in range(n)}
    for i in range(0, n // 2, 2):
        j = (i + n // 2) % n
        if abs(i - j) not in (1, n - 1):
            edges.add((i, j))
    return sorted((min(a, b), max(a, b)) for a, b in edges)


@dataclass
class _Spread:
    label: str
    origin: int
    alert_id: bytes
    started: float
    reached: dict[int, float] = field(default_factory=dict)


class _Display:
    """Plain lines, or on a terminal a table redrawn in place."""

    def __init__(self, out: TextIO, names: list[str]) -> None:
        self.out = out
        self.names = names
        self.live = out.isatty()
        self._drawn = 0

    def say(self, text: str) -> None:
        self._drawn = 0
        self.out.write(text + "\n")
        self.out.flush()

    def reached(self, spread: _Spread, node: int) -> None:
        if not self.live:
            ms = (spread.reached[node] - spread.started) * 1000
            self.say(
                f"  {spread.label}: reached {self.names[node]} after {ms:.0f} ms "
                f"({len(spread.reached)}/{len(self.names)})"
            )

    def table(self, spreads: list[_Spread]) -> None:
        if not self.live:
            return
        lines = []
        for s in spreads:
            cells = "".join("#" if i in s.reached else "." for i in range(len(self.names)))
            lines.append(f"  {s.label:<34} [{cells}] {len(s.reached)}/{len(self.names)}")
        if self._drawn:
            self.out.write(f"\x1b[{self._drawn}A")
        self.out.write("".join(f"\x1b[2K{line}\n" for line in lines))
        self.out.flush()
        self._drawn = len(lines)


async def _start_nodes(root: Path, n: int) -> list[Node]:
    # Imported here: the CLI reads this module's limits without loading a node.
    from ..app import Node
    from .initialise import init_node

    nodes: list[Node] = []
    for i in range(n):
        name, region = NODES[i]
        data = root / f"n{i}"
        await init_node(
            data,
            name=name,
            web="127.0.0.1:0",
            fed="127.0.0.1:0",
            public_url=None,
            region=region,
            passphrase=None,
            allow_http=True,
        )
        node = Node(data, config_mod.load(data))
        nodes.append(node)
        await node.start(None)
    return nodes


async def _pair(nodes: list[Node], edges: list[tuple[int, int]]) -> None:
    for a, b in edges:
        pa, pb = nodes[a].unlocked().trust, nodes[b].unlocked().trust
        await pa.add_peer(pb.card(), "relay", True, None)
        await pb.add_peer(pa.card(), "relay", True, None)


async def _has(node: Node, alert_id: bytes) -> bool:
    store = node.unlocked().store
    return await store.alerts.get_alert(alert_id, node.clock.now()) is not None


async def _observe(nodes: list[Node], spreads: list[_Spread], display: _Display) -> None:
    for spread in spreads:
        for i, node in enumerate(nodes):
            if i not in spread.reached and await _has(node, spread.alert_id):
                spread.reached[i] = time.monotonic()
                display.reached(spread, i)
    display.table(spreads)


async def _publish_and_watch(nodes: list[Node], display: _Display, stop: asyncio.Event) -> bool:
    from ..service import Draft

    """Publish the samples from different nodes; show them spreading. True if complete."""
    spreads: list[_Spread] = []
    for k, (lang, categories, danger, indicator, text) in enumerate(SAMPLES):
        origin = k % len(nodes)
        service = nodes[origin].unlocked().alerts
        alert_id = await service.publish(
            Draft(
                categories=categories,
                danger=danger,
                region=NODES[origin][1],
                indicators=[indicator],
                description=text,
                lang=lang,
                hops=6,
            )
        )
        label = f"[{lang}] {categories[0]} from {display.names[origin]}"
        spread = _Spread(label, origin, alert_id, time.monotonic())
        spread.reached[origin] = spread.started
        spreads.append(spread)
        display.say(f"Published {label}")
        display.reached(spread, origin)
        await _observe(nodes, spreads, display)
    deadline = time.monotonic() + PROPAGATION_TIMEOUT_S
    while not stop.is_set() and time.monotonic() < deadline:
        await _observe(nodes, spreads, display)
        if all(len(s.reached) == len(nodes) for s in spreads):
            slowest = max(max(s.reached.values()) - s.started for s in spreads)
            display.say(
                f"Full propagation: all {len(spreads)} alerts reached all {len(nodes)} "
                f"nodes (slowest in {slowest * 1000:.0f} ms)."
            )
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL_S)
    if not stop.is_set():
        display.say("Not every alert reached every node in time; see the table above.")
    return False


async def run_demo(n: int, out: TextIO) -> int:
    """Run the demo until SIGINT or SIGTERM; then stop every node and remove its files."""
    if not MIN_NODES <= n <= MAX_NODES:
        raise UsageError(f"--nodes must be between {MIN_NODES} and {MAX_NODES}")
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # A short path: each node's control socket lives in its directory.
    root = Path(tempfile.mkdtemp(prefix="alertnode-demo-", dir="/tmp"))
    nodes: list[Node] = []
    display = _Display(out, [name for name, _ in NODES[:n]])
    try:
        display.say(f"Starting {n} demo nodes in {root} (all removed when you press Ctrl-C).")
        nodes = await _start_nodes(root, n)
        edges = trust_edges(n)
        await _pair(nodes, edges)
        display.say(
            "Trust graph (each pair accepts relayed alerts): "
            + ", ".join(f"{display.names[a]} <-> {display.names[b]}" for a, b in edges)
        )
        await _publish_and_watch(nodes, display, stop)
        if not stop.is_set():
            display.say(
                "\nEach node's web app, with ready invite codes (sign up with one; the "
                "caseworker reviews reports and publishes, the admin runs the node):"
            )
            for i, node in enumerate(nodes):
                store = node.unlocked().store
                now = node.clock.now()
                until = now + INVITE_DAYS * 86400
                codes = {r: await store.members.create_invite(r, until, now) for r in ROLES}
                display.say(f"  {display.names[i]:<24} {node.web_url}  invite: {codes['member']}")
                display.say(
                    f"  {'':<24} caseworker: {codes['caseworker']}  admin: {codes['admin']}"
                )
            display.say(try_these())
            display.say("\nPress Ctrl-C to stop the demo and remove its files.")
            await stop.wait()
    finally:
        for node in reversed(nodes):
            with contextlib.suppress(Exception):
                await node.stop()
        shutil.rmtree(root, ignore_errors=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    display.say(f"Demo stopped; removed {root}.")
    return 0
