"""Control commands for federation: card, peers, the block list, sync now."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .control import command
from .errors import UsageError

if TYPE_CHECKING:
    from .app import Node


def _key(text: Any) -> bytes:
    try:
        raw = bytes.fromhex(str(text).strip())
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise UsageError("a node key is 64 hexadecimal characters")
    return raw


def _bool(args: dict[str, Any], name: str) -> bool | None:
    value = args.get(name)
    if value is not None and not isinstance(value, bool):
        raise UsageError(f"{name} must be true or false")
    return value


@command("card")
async def _card(node: Node, args: dict[str, Any]) -> dict[str, Any]:
    peering = node.unlocked().trust
    return {"card": peering.card(), "key": node.config.key, "url": peering.url}


@command("peer.add")
async def _peer_add(node: Node, args: dict[str, Any]) -> dict[str, Any]:
    peering = node.unlocked().trust
    card = args.get("card")
    if not isinstance(card, str) or not card.strip():
        raise UsageError("give the peer's card (the line 'alertnode card' prints)")
    share = _bool(args, "share")
    proxy = args.get("proxy")
    result = await peering.add_peer(
        card,
        str(args.get("accept") or "relay"),
        True if share is None else share,
        proxy if isinstance(proxy, str) else None,
    )
    return result


@command("peer.list")
async def _peer_list(node: Node, args: dict[str, Any]) -> dict[str, Any]:
    peering = node.unlocked().trust
    store = node.unlocked().store
    blocked = [o.hex() for o in await store.peers.blocked_origins()]
    return {"peers": await peering.list_peers(), "blocked_origins": blocked}


@command("peer.set")
async def _peer_set(node: Node, args: dict[str, Any]) -> dict[str, Any]:
    peering = node.unlocked().trust
    accept = args.get("accept")
    peer = await peering.set_peer(
        str(args.get("peer", "")),
        accept=accept if isinstance(accept, str) else None,
        share=_bool(args, "share"),
        suspended=_bool(args, "suspended"),
    )
    return {
        "key": peer.key.hex(),
        "name": peer.name,
        "accept": peer.accept,
        "share": peer.share,
        "suspended": peer.suspended,
    }


@command("peer.remove")
async def _peer_remove(node: Node, args: dict[str, Any]) -> dict[str, Any]:
    peering = node.unlocked().trust
    result = await peering.remove_peer(str(args.get("peer", "")), bool(args.get("purge")))
    return result


@command("peer.block")
async def _peer_block(node: Node, args: dict[str, Any]) -> dict[str, Any]:
    store = node.unlocked().store
    origin = _key(args.get("origin"))
    if origin.hex() == node.config.key:
        raise UsageError("a node cannot block itself")
    await store.peers.block_origin(origin, node.clock.now())
    purged = await store.alerts.purge_origin(origin) if args.get("purge") else 0
    return {"origin": origin.hex(), "blocked": True, "purged": purged}


@command("peer.unblock")
async def _peer_unblock(node: Node, args: dict[str, Any]) -> dict[str, Any]:
    store = node.unlocked().store
    origin = _key(args.get("origin"))
    await store.peers.unblock_origin(origin)
    return {"origin": origin.hex(), "blocked": False}


@command("sync")
async def _sync(node: Node, args: dict[str, Any]) -> dict[str, Any]:
    peering = node.unlocked().trust
    results = await peering.sync_now()
    return {
        "peers": results,
        "stored": sum(r["stored"] for r in results),
        "errors": sum(1 for r in results if r["error"]),
    }


@command("key.rotate")
async def _key_rotate(node: Node, args: dict[str, Any]) -> dict[str, Any]:
    if args.get("confirm") is not True:
        raise UsageError("rotating the node key needs --yes (peers that miss it must re-add you)")
    return await node.rotate_key()
