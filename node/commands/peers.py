"""Command rows for federation: the card, peers, the origin block list, sync now and
key rotation.

Rule: a peer's policy changes only through these handlers (and the web page that
runs the same rows); purging is asked for by a JSON ``true``, never by truthiness.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import UsageError
from .table import Arg, Bool, Choice, Command, Invocation, Key, ParsedArgs, Result, Str

if TYPE_CHECKING:
    from .host import NodeControl

ACCEPT_MODES = ("none", "direct", "relay")
GROUPS = {
    "key": "this node's signing key",
    "network-key": "the network's blinding keys (shared with every peer)",
    "peer": "the trust list: peers and blocked origins",
}
# The two policy flags 'peer add', 'peer set' and 'pair' share.
ACCEPT = Arg("accept", Choice(ACCEPT_MODES), default="relay")
SHARE = Arg("share", Bool(negative="--no-share"), default=True)


async def _card(node: NodeControl, args: ParsedArgs) -> Result:
    peering = node.unlocked().trust
    return {"card": peering.card(), "key": node.config.key, "url": peering.url}


async def _run_card(inv: Invocation) -> int:
    from ..ops.initialise import read_card

    result = await read_card(inv.data_dir)
    inv.emit(result, result["card"])
    return 0


async def _peer_add(node: NodeControl, args: ParsedArgs) -> Result:
    peering = node.unlocked().trust
    return await peering.add_peer(
        args.text("card"), args.text("accept"), args.flag("share"), args.optional_text("proxy")
    )


def show_added(result: Result) -> str:
    return (
        f"Added {result['name']} ({result['key'][:16]}).\n"
        f"Confirm with their admin, by voice, that both of you see: {result['sas']}"
    )


async def _peer_list(node: NodeControl, args: ParsedArgs) -> Result:
    peering = node.unlocked().trust
    store = node.unlocked().store
    blocked = [o.hex() for o in await store.peers.blocked_origins()]
    return {"peers": await peering.list_peers(), "blocked_origins": blocked}


def _show_peers(result: Result) -> str:
    if not result["peers"]:
        return "No peers yet. Add one with 'alertnode peer add CARD'."
    lines = []
    for p in result["peers"]:
        flags = f"accept={p['accept']} share={'on' if p['share'] else 'off'}"
        lag = "" if p["lag"] is None else f" lag={p['lag']}"
        error = ""
        if p["last_error"]:
            error = f" error: {p['last_error']['code']} ({p['last_error']['message']})"
        refused = p["refused"]
        refusals = ""
        if refused["count"]:
            refusals = f" refused={refused['count']}"
            if refused["last"]:
                refusals += f" last refusal: {refused['last']['code']}"
        lines.append(
            f"{p['key'][:16]}  {p['name']}  {p['status']}  {flags}"
            f" received={p['items_received']}{lag}{refusals}{error}"
        )
    return "\n".join(lines)


async def _peer_set(node: NodeControl, args: ParsedArgs) -> Result:
    peering = node.unlocked().trust
    peer = await peering.set_peer(
        args.text("peer"),
        accept=args.optional_text("accept"),
        share=args.optional_flag("share"),
        suspended=args.optional_flag("suspended"),
    )
    return {
        "key": peer.key.hex(),
        "name": peer.name,
        "accept": peer.accept,
        "share": peer.share,
        "suspended": peer.suspended,
    }


async def _peer_remove(node: NodeControl, args: ParsedArgs) -> Result:
    peering = node.unlocked().trust
    return await peering.remove_peer(args.text("peer"), args.flag("purge"))


async def _peer_block(node: NodeControl, args: ParsedArgs) -> Result:
    store = node.unlocked().store
    origin = args.key("origin")
    if origin.hex() == node.config.key:
        raise UsageError("a node cannot block itself")
    await store.peers.block_origin(origin, node.clock.now())
    purged = await store.alerts.purge_origin(origin) if args.flag("purge") else 0
    return {"origin": origin.hex(), "blocked": True, "purged": purged}


async def _peer_unblock(node: NodeControl, args: ParsedArgs) -> Result:
    store = node.unlocked().store
    origin = args.key("origin")
    await store.peers.unblock_origin(origin)
    return {"origin": origin.hex(), "blocked": False}


async def _sync(node: NodeControl, args: ParsedArgs) -> Result:
    peering = node.unlocked().trust
    results = await peering.sync_now()
    return {
        "peers": results,
        "stored": sum(r["stored"] for r in results),
        "errors": sum(1 for r in results if r["error"]),
    }


def _show_sync(result: Result) -> str:
    lines = [f"Stored {result['stored']} new item(s); {result['errors']} peer(s) with errors."]
    for r in result["peers"]:
        state = f"error: {r['error']}" if r["error"] else "ok"
        lines.append(
            f"  {r['peer']}: {state}; stored {r['stored']}, refused {r['refused']}, "
            f"bodies {r['bodies']}"
        )
    return "\n".join(lines)


async def _key_rotate(node: NodeControl, args: ParsedArgs) -> Result:
    return await node.rotate_key()


async def _network_key_rotate(node: NodeControl, args: ParsedArgs) -> Result:
    return await node.rotate_network_key()


def _show_network_rotation(result: Result) -> str:
    return (
        f"New network blinding key {result['key_id']} (epoch {result['epoch']}): new alerts "
        "use it, peers receive it at their next sync, and older keys stay for checks."
    )


def _show_rotation(result: Result) -> str:
    lines = [f"The node key is now {result['key'][:16]}...; {len(result['told'])} peer(s) told."]
    for miss in result["missed"]:
        lines.append(f"  not told yet: {miss['name']} ({miss['error']}).")
    if result.get("owed"):
        lines.append(f"{result['owed']} statement(s) queued; retried until each peer takes it.")
    lines.append(f"New card:\n{result['card']}")
    return "\n".join(lines)


PEER = Arg("peer", Str(min_chars=1), positional=True, required=True, metavar="KEY_OR_NAME")
PURGE = Arg("purge", Bool(), default=False, help="also drop every alert it originated")
ORIGIN = Arg("origin", Key(), positional=True, required=True, metavar="ORIGIN_KEY")

COMMANDS = (
    Command(
        "card",
        "Print this node's card.",
        handler=_card,
        runner=_run_card,
        output=("card", "key"),
    ),
    Command(
        "key.rotate",
        "Rotate the node's signing key and tell every peer (signed with the old key).",
        args=(
            Arg(
                "confirm",
                Bool(only_true=True),
                flag="--yes",
                help="really rotate",
                required=True,
                missing="rotating the node key needs --yes",
                outside=True,
            ),
        ),
        handler=_key_rotate,
        show=_show_rotation,
        output=("key", "told", "missed", "owed", "card"),
    ),
    Command(
        "network-key.rotate",
        "Make a new network blinding key for new alerts and hand it to every peer.",
        handler=_network_key_rotate,
        show=_show_network_rotation,
        output=("key_id", "epoch"),
    ),
    Command(
        "peer.add",
        "Add a peer from its card (use - to read the card from standard input).",
        args=(
            Arg(
                "card",
                Str(min_chars=1, stdin_dash=True),
                positional=True,
                required=True,
                missing="give the peer's card (the line 'alertnode card' prints)",
                example="alertnode-card:1:AAAA",
            ),
            ACCEPT,
            SHARE,
            Arg("proxy", Str(), metavar="URL", help="reach this peer through a SOCKS5 proxy"),
        ),
        handler=_peer_add,
        show=show_added,
        output=("key", "name", "sas"),
    ),
    Command(
        "peer.list",
        "List peers.",
        handler=_peer_list,
        show=_show_peers,
        output=("peers", "blocked_origins"),
    ),
    Command(
        "peer.set",
        "Change a peer's policy.",
        args=(
            PEER,
            Arg("accept", Choice(ACCEPT_MODES)),
            Arg("share", Bool(negative="--no-share")),
            Arg("suspended", Bool(negative="--resume"), flag="--suspend"),
        ),
        handler=_peer_set,
        show=lambda r: (
            f"{r['name']}: accept={r['accept']} share={r['share']} suspended={r['suspended']}"
        ),
        output=("key", "name", "accept", "share", "suspended"),
    ),
    Command(
        "peer.remove",
        "Remove a peer (--purge also drops everything it originated).",
        args=(PEER, PURGE),
        handler=_peer_remove,
        show=lambda r: f"Removed {r['name']}; purged {r['purged']} alert(s).",
        output=("key", "name", "purged"),
    ),
    Command(
        "peer.block",
        "Block an origin's alerts whichever peer brings them.",
        args=(ORIGIN, PURGE),
        handler=_peer_block,
        show=lambda r: f"Blocked origin {r['origin'][:16]}; purged {r['purged']} alert(s).",
        output=("origin", "blocked", "purged"),
    ),
    Command(
        "peer.unblock",
        "Lift an origin block.",
        args=(ORIGIN,),
        handler=_peer_unblock,
        show=lambda r: "Unblocked.",
        output=("origin", "blocked"),
    ),
    Command(
        "sync",
        "Sync with every peer now.",
        handler=_sync,
        show=_show_sync,
        output=("peers", "stored", "errors"),
    ),
)
