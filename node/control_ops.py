"""Control commands for running a node: change the passphrase, back up, panic wipe.

Rule: ``wipe`` works whether the node is locked or not (a panic does not wait for a
passphrase); the others need an unlocked node, like every other command.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .control import command
from .errors import UsageError

if TYPE_CHECKING:
    from .app import Node


@command("passphrase.change")
async def _passphrase_change(node: Node, args: dict[str, Any]) -> dict[str, Any]:
    node.unlocked()
    old, new = args.get("old"), args.get("new")
    if old is not None and not isinstance(old, str):
        raise UsageError("the old passphrase must be text")
    if not isinstance(new, str) or not new:
        raise UsageError("give the new passphrase with --new-file F")
    await node.change_passphrase(old, new)
    return {"changed": True, "mode": "passphrase"}


@command("backup.create")
async def _backup_create(node: Node, args: dict[str, Any]) -> dict[str, Any]:
    node.unlocked()
    out = args.get("out")
    if not isinstance(out, str) or not out:
        raise UsageError("give the backup file with --out FILE")
    return await node.create_backup(Path(out))


@command("wipe")
async def _wipe(node: Node, args: dict[str, Any]) -> dict[str, Any]:
    if args.get("confirm") is not True:
        raise UsageError("a wipe needs --yes; it destroys this node's data for good")
    return await node.wipe()
