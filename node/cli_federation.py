"""CLI commands for federation: peer add/list/set/remove/block/unblock and sync."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .cli import _Parser, add_command, remote


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
