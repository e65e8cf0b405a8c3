"""Control commands for pairing mode: start, status, accept a discovered node, stop."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .control import command
from .control_federation import _bool, _key
from .errors import UsageError
from .pairing import DEFAULT_PAIRING_S, pairing_mode

if TYPE_CHECKING:
    from .app import Node


def _interfaces(args: dict[str, Any]) -> list[str] | None:
    value = args.get("interfaces")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
        raise UsageError("interfaces must be a list of IP addresses")
    return [str(v) for v in value]


@command("pair.start")
async def _pair_start(node: Node, args: dict[str, Any]) -> dict[str, Any]:
    seconds = args.get("seconds", DEFAULT_PAIRING_S)
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise UsageError("--seconds must be a whole number")
    return await pairing_mode(node).start(seconds, _interfaces(args))


@command("pair.status")
async def _pair_status(node: Node, args: dict[str, Any]) -> dict[str, Any]:
    node.unlocked()
    return pairing_mode(node).status()


@command("pair.accept")
async def _pair_accept(node: Node, args: dict[str, Any]) -> dict[str, Any]:
    node.unlocked()
    share = _bool(args, "share")
    accept = args.get("accept") or "relay"
    if not isinstance(accept, str):
        raise UsageError("--accept is one of none, direct, relay")
    return await pairing_mode(node).accept(
        _key(args.get("key")), accept, True if share is None else share
    )


@command("pair.stop")
async def _pair_stop(node: Node, args: dict[str, Any]) -> dict[str, Any]:
    node.unlocked()
    return await pairing_mode(node).stop()
