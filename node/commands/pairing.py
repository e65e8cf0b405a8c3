"""Command rows for pairing mode: the node's pair.start/status/accept/stop, and the
CLI's ``pair`` that drives them.

Rule: the node's pairing session is the node's own (``Node.pairing``), never a
registry here; finding a node adds nothing until an admin (or ``--accept-key``)
names its key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from ..errors import NodeError
from ..network.pairing import DEFAULT_PAIRING_S, MAX_PAIRING_S
from . import client
from .peers import ACCEPT, SHARE, show_added
from .table import Arg, Command, Int, Invocation, Key, List, ParsedArgs, Result, Str

if TYPE_CHECKING:
    from .host import NodeControl

PAIR_INTERFACES_ENV = "ALERTNODE_PAIR_INTERFACES"
PAIR_POLL_S = 0.5
PAIRING_OUTPUT = ("active", "until", "discovered")
SECONDS = Arg(
    "seconds",
    Int(1, MAX_PAIRING_S),
    default=DEFAULT_PAIRING_S,
    help=f"how long to advertise (1-{MAX_PAIRING_S})",
    outside=True,
)


async def _pair_start(node: NodeControl, args: ParsedArgs) -> Result:
    return await node.pairing.start(args.number("seconds"), args.optional_items("interfaces"))


async def _pair_status(node: NodeControl, args: ParsedArgs) -> Result:
    node.unlocked()
    return node.pairing.status()


async def _pair_accept(node: NodeControl, args: ParsedArgs) -> Result:
    node.unlocked()
    return await node.pairing.accept(args.key("key"), args.text("accept"), args.flag("share"))


async def _pair_stop(node: NodeControl, args: ParsedArgs) -> Result:
    node.unlocked()
    return await node.pairing.stop()


def _interfaces(args: ParsedArgs) -> list[str] | None:
    """--interface flags, else $ALERTNODE_PAIR_INTERFACES (comma-separated), else all."""
    given = args.optional_items("interfaces")
    if given:
        return given
    env = os.environ.get(PAIR_INTERFACES_ENV, "")
    found = [part.strip() for part in env.split(",") if part.strip()]
    return found or None


def _ask(question: str) -> bool:
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


async def _run_pair(inv: Invocation) -> int:
    data, args = inv.data_dir, inv.args
    accept_key = args.optional_key("accept_key")
    wanted = accept_key.hex() if accept_key is not None else None
    seconds = args.number("seconds")
    # Prompt only a person at a terminal; a script adds nothing unless it named a key.
    interactive = wanted is None and not inv.json and sys.stdin.isatty()

    def say(text: str) -> None:
        if not inv.json:
            print(text, flush=True)

    await client.call(data, "pair.start", {"seconds": seconds, "interfaces": _interfaces(args)})
    say(
        f"Pairing mode for {seconds} s: this node is visible on the local network."
        " Press Ctrl-C to stop."
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    discovered: dict[str, dict[str, Any]] = {}
    added: list[dict[str, Any]] = []
    accept_args = {"accept": args.text("accept"), "share": args.flag("share")}
    try:
        while loop.time() < deadline:
            status = await client.call(data, "pair.status")
            for found in status["discovered"]:
                if found["key"] in discovered:
                    continue
                discovered[found["key"]] = found
                name, sas = found["name"], found["sas"]
                say(f"Found {name} ({found['key'][:16]}); short authentication string {sas}")
                question = f"Add {name}? Both admins should see {sas} [y/N] "
                if found["key"] == wanted or (
                    interactive and await loop.run_in_executor(None, _ask, question)
                ):
                    result = await client.call(
                        data, "pair.accept", {"key": found["key"], **accept_args}
                    )
                    added.append(result)
                    say(show_added(result))
            if not status["active"]:
                break
            await asyncio.sleep(PAIR_POLL_S)
    finally:
        with contextlib.suppress(NodeError):
            await client.call(data, "pair.stop")
    say(f"Pairing mode ended; found {len(discovered)} node(s), added {len(added)}.")
    if inv.json:
        print(json.dumps({"discovered": list(discovered.values()), "added": added}))
    return 0


INTERFACES = Arg(
    "interfaces",
    List(Str(), min_items=1),
    flag="--interface",
    metavar="IP",
    help=f"advertise only on this address (repeatable; default ${PAIR_INTERFACES_ENV} "
    "or every interface)",
    example=["127.0.0.1"],
)

COMMANDS = (
    Command(
        "pair",
        "Advertise this node on the local network for a while and add nodes found there "
        "after their admin confirms the short authentication string.",
        args=(
            SECONDS,
            INTERFACES,
            Arg(
                "accept_key",
                Key(),
                metavar="KEY",
                help="without a terminal: add the node with this key once it is discovered",
            ),
            ACCEPT,
            SHARE,
        ),
        runner=_run_pair,
        output=("discovered", "added"),
    ),
    Command(
        "pair.start",
        "Start pairing mode (socket only; 'alertnode pair' drives it).",
        args=(SECONDS, INTERFACES),
        handler=_pair_start,
        output=PAIRING_OUTPUT,
        cli=False,
    ),
    Command(
        "pair.status",
        "What pairing mode has found (socket only).",
        handler=_pair_status,
        output=PAIRING_OUTPUT,
        cli=False,
    ),
    Command(
        "pair.accept",
        "Add a node pairing mode found (socket only).",
        args=(Arg("key", Key(), required=True), ACCEPT, SHARE),
        handler=_pair_accept,
        output=("key", "name", "sas"),
        cli=False,
    ),
    Command(
        "pair.stop",
        "End pairing mode (socket only).",
        handler=_pair_stop,
        output=PAIRING_OUTPUT,
        cli=False,
    ),
)
