"""CLI commands for federation: peer add/list/set/remove/block/unblock, sync and pair."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from typing import Any

from . import config as config_mod
from . import control
from .cli import _Parser, add_command, remote
from .errors import NodeError, UsageError


def _show_peers(result: dict[str, Any]) -> str:
    if not result["peers"]:
        return "No peers yet. Add one with 'alertnode peer add CARD'."
    lines = []
    for p in result["peers"]:
        flags = f"accept={p['accept']} share={'on' if p['share'] else 'off'}"
        lag = "" if p["lag"] is None else f" lag={p['lag']}"
        error = f" error: {p['last_error']}" if p["last_error"] else ""
        lines.append(
            f"{p['key'][:16]}  {p['name']}  {p['status']}  {flags}"
            f" received={p['items_received']}{lag}{error}"
        )
    return "\n".join(lines)


def _show_added(result: dict[str, Any]) -> str:
    return (
        f"Added {result['name']} ({result['key'][:16]}).\n"
        f"Confirm with their admin, by voice, that both of you see: {result['sas']}"
    )


def _show_sync(result: dict[str, Any]) -> str:
    lines = [f"Stored {result['stored']} new item(s); {result['errors']} peer(s) with errors."]
    for r in result["peers"]:
        state = f"error: {r['error']}" if r["error"] else "ok"
        lines.append(
            f"  {r['peer']}: {state}; stored {r['stored']}, refused {r['refused']}, "
            f"bodies {r['bodies']}"
        )
    return "\n".join(lines)


def _show_rotation(result: dict[str, Any]) -> str:
    lines = [f"The node key is now {result['key'][:16]}...; {len(result['told'])} peer(s) told."]
    for miss in result["missed"]:
        lines.append(f"  NOT told: {miss['name']} ({miss['error']}); send them the new card.")
    lines.append(f"New card:\n{result['card']}")
    return "\n".join(lines)


def _card_arg(args: argparse.Namespace) -> str:
    if args.card == "-":
        return sys.stdin.read()
    return str(args.card)


def _add_policy_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--accept", choices=("none", "direct", "relay"))
    share = p.add_mutually_exclusive_group()
    share.add_argument("--share", dest="share", action="store_true", default=None)
    share.add_argument("--no-share", dest="share", action="store_false")


def register(sub: Any) -> None:
    key = sub.add_parser("key", help="this node's signing key")
    ksub = key.add_subparsers(dest="key_command", required=True, parser_class=_Parser)
    p = add_command(
        ksub,
        "rotate",
        remote("key.rotate", lambda a: {"confirm": a.yes}, _show_rotation),
        "Rotate the node's signing key and tell every peer (signed with the old key).",
        True,
    )
    p.add_argument("--yes", action="store_true", help="really rotate")

    peer = sub.add_parser("peer", help="the trust list: peers and blocked origins")
    psub = peer.add_subparsers(dest="peer_command", required=True, parser_class=_Parser)

    p = add_command(
        psub,
        "add",
        remote(
            "peer.add",
            lambda a: {
                "card": _card_arg(a),
                "accept": a.accept or "relay",
                "share": a.share,
                "proxy": a.proxy,
            },
            _show_added,
        ),
        "Add a peer from its card (use - to read the card from standard input).",
        True,
    )
    p.add_argument("card")
    _add_policy_flags(p)
    p.add_argument("--proxy", metavar="URL", help="reach this peer through a SOCKS5 proxy")

    add_command(psub, "list", remote("peer.list", lambda a: {}, _show_peers), "List peers.", True)

    p = add_command(
        psub,
        "set",
        remote(
            "peer.set",
            lambda a: {
                "peer": a.peer,
                "accept": a.accept,
                "share": a.share,
                "suspended": a.suspended,
            },
            lambda r: (
                f"{r['name']}: accept={r['accept']} share={r['share']} suspended={r['suspended']}"
            ),
        ),
        "Change a peer's policy.",
        True,
    )
    p.add_argument("peer", metavar="KEY_OR_NAME")
    _add_policy_flags(p)
    susp = p.add_mutually_exclusive_group()
    susp.add_argument("--suspend", dest="suspended", action="store_true", default=None)
    susp.add_argument("--resume", dest="suspended", action="store_false")

    p = add_command(
        psub,
        "remove",
        remote(
            "peer.remove",
            lambda a: {"peer": a.peer, "purge": a.purge},
            lambda r: f"Removed {r['name']}; purged {r['purged']} alert(s).",
        ),
        "Remove a peer (--purge also drops everything it originated).",
        True,
    )
    p.add_argument("peer", metavar="KEY_OR_NAME")
    p.add_argument("--purge", action="store_true")

    p = add_command(
        psub,
        "block",
        remote(
            "peer.block",
            lambda a: {"origin": a.origin, "purge": a.purge},
            lambda r: f"Blocked origin {r['origin'][:16]}; purged {r['purged']} alert(s).",
        ),
        "Block an origin's alerts whichever peer brings them.",
        True,
    )
    p.add_argument("origin", metavar="ORIGIN_KEY")
    p.add_argument("--purge", action="store_true")

    p = add_command(
        psub,
        "unblock",
        remote("peer.unblock", lambda a: {"origin": a.origin}, lambda r: "Unblocked."),
        "Lift an origin block.",
        True,
    )
    p.add_argument("origin", metavar="ORIGIN_KEY")

    add_command(
        sub, "sync", remote("sync", lambda a: {}, _show_sync), "Sync with every peer now.", True
    )
    register_pairing(sub)


# --- pairing -------------------------------------------------------------------------

PAIR_INTERFACES_ENV = "ALERTNODE_PAIR_INTERFACES"
PAIR_POLL_S = 0.5


def _pair_interfaces(args: argparse.Namespace) -> list[str] | None:
    """--interface flags, else $ALERTNODE_PAIR_INTERFACES (comma-separated), else all."""
    if args.interface:
        return list(args.interface)
    env = os.environ.get(PAIR_INTERFACES_ENV, "")
    found = [part.strip() for part in env.split(",") if part.strip()]
    return found or None


def _ask(question: str) -> bool:
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


async def _pair(args: argparse.Namespace) -> int:
    data = config_mod.data_dir(args.data)
    accept_key = None
    if args.accept_key is not None:
        accept_key = args.accept_key.strip().lower()
        if len(accept_key) != 64 or any(c not in "0123456789abcdef" for c in accept_key):
            raise UsageError("--accept-key is a node key: 64 hexadecimal characters")
    # Prompt only a person at a terminal; a script adds nothing unless it named a key.
    interactive = accept_key is None and not args.json and sys.stdin.isatty()

    def say(text: str) -> None:
        if not args.json:
            print(text, flush=True)

    start: dict[str, Any] = {"seconds": args.seconds, "interfaces": _pair_interfaces(args)}
    await control.call(data, "pair.start", start)
    say(
        f"Pairing mode for {args.seconds} s: this node is visible on the local network."
        " Press Ctrl-C to stop."
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.seconds
    discovered: dict[str, dict[str, Any]] = {}
    added: list[dict[str, Any]] = []
    accept_args = {"accept": args.accept or "relay", "share": args.share}
    try:
        while loop.time() < deadline:
            status = await control.call(data, "pair.status")
            for found in status["discovered"]:
                if found["key"] in discovered:
                    continue
                discovered[found["key"]] = found
                name, sas = found["name"], found["sas"]
                say(f"Found {name} ({found['key'][:16]}); short authentication string {sas}")
                question = f"Add {name}? Both admins should see {sas} [y/N] "
                if found["key"] == accept_key or (
                    interactive and await loop.run_in_executor(None, _ask, question)
                ):
                    result = await control.call(
                        data, "pair.accept", {"key": found["key"], **accept_args}
                    )
                    added.append(result)
                    say(_show_added(result))
            if not status["active"]:
                break
            await asyncio.sleep(PAIR_POLL_S)
    finally:
        with contextlib.suppress(NodeError):
            await control.call(data, "pair.stop")
    say(f"Pairing mode ended; found {len(discovered)} node(s), added {len(added)}.")
    if args.json:
        print(json.dumps({"discovered": list(discovered.values()), "added": added}))
    return 0


def register_pairing(sub: Any) -> None:
    p = add_command(
        sub,
        "pair",
        _pair,
        "Advertise this node on the local network for a while and add nodes found there "
        "after their admin confirms the short authentication string.",
        True,
    )
    p.add_argument("--seconds", type=int, default=60, help="how long to advertise (1-600)")
    p.add_argument(
        "--interface",
        action="append",
        metavar="IP",
        help=f"advertise only on this address (repeatable; default ${PAIR_INTERFACES_ENV} "
        "or every interface)",
    )
    p.add_argument(
        "--accept-key",
        metavar="KEY",
        help="without a terminal: add the node with this key once it is discovered",
    )
    _add_policy_flags(p)
