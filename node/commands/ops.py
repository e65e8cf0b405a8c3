"""Command rows for running a node: passphrase change and duress, backup create/restore,
panic wipe.

Rule: ``wipe`` works whether the node is locked or not (a panic does not wait for a
passphrase), and the CLI's wipe asks a running node to wipe itself first and then
sweeps the directory offline, so a hung or dead node cannot stop it. ``backup
restore`` is offline. The others need an unlocked node, like every other command.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import NodeError, UsageError
from . import client
from .table import Arg, Bool, Command, FilePath, Invocation, ParsedArgs, Result, Secret

if TYPE_CHECKING:
    from .host import NodeControl

GROUPS = {
    "passphrase": "change the admin passphrase; set a duress passphrase",
    "backup": "encrypted backups of the whole node",
}
# A panic wipe must not wait on a hung node: after this, the CLI wipes offline.
WIPE_CALL_TIMEOUT_S = 1.5
WIPE_EXIT_WAIT_S = 2.0
NODE_MARKERS = ("keys.bin", "node.json", "store.db")
WIPE_MISSING = "a wipe destroys this node's keys and data for good; add --yes if you mean it"


async def _passphrase_change(node: NodeControl, args: ParsedArgs) -> Result:
    await node.change_passphrase(args.optional_text("old"), args.text("new"))
    return {"changed": True, "mode": "passphrase"}


async def _passphrase_duress(node: NodeControl, args: ParsedArgs) -> Result:
    duress = args.optional_text("duress")
    clear = args.flag("clear")
    if (duress is None) == (not clear):
        raise UsageError("give either --duress-file F or --clear")
    await node.set_duress_passphrase(None if clear else duress)
    return {"duress": not clear}


def _show_duress(result: Result) -> str:
    if not result["duress"]:
        return "Duress passphrase removed (a decoy of the same size takes its place)."
    return (
        "Duress passphrase set. Typed wherever the admin passphrase is asked (unlock, the "
        "web unlock form, the wipe page, passphrase change), it wipes this node at once "
        "and answers as a wrong passphrase would."
    )


async def _backup_create(node: NodeControl, args: ParsedArgs) -> Result:
    return await node.create_backup(Path(args.text("out")))


def _show_backup(result: Result) -> str:
    return (
        f"Wrote {result['out']} ({result['bytes']} bytes, {result['alerts']} alerts, "
        f"{result['peers']} peers, {result['members']} members) in {result['seconds']} s.\n"
        "It opens with the admin passphrase the node has now. Keep it somewhere safe."
    )


async def _run_restore(inv: Invocation) -> int:
    data = inv.data_dir
    from ..ops import backup  # the CLI loads this module for every command

    result = await backup.restore(Path(inv.args.text("input")), data, inv.args.text("passphrase"))
    text = (
        f"Restored the node into {data}: {result['alerts']} alerts.\n"
        "Its feed epoch is new, so peers re-sync by id (no alert bodies twice).\n"
        f"Start it with: alertnode run --data {data}"
    )
    inv.emit(result, text)
    return 0


async def _wipe(node: NodeControl, args: ParsedArgs) -> Result:
    return await node.wipe()


async def _run_wipe(inv: Invocation) -> int:
    from ..ops import wipe

    data = inv.data_dir
    if not data.is_dir() or not any((data / name).exists() for name in NODE_MARKERS):
        raise UsageError(f"{data} holds no alertnode node; nothing was wiped")
    started = time.monotonic()
    running = False
    with contextlib.suppress(NodeError, asyncio.TimeoutError, OSError):
        await asyncio.wait_for(client.call(data, "wipe", {"confirm": True}), WIPE_CALL_TIMEOUT_S)
        running = True
        deadline = time.monotonic() + WIPE_EXIT_WAIT_S
        while (data / client.SOCKET_FILE).exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    # Whatever the node did, sweep the directory (the node may be hung or dead).
    swept = wipe.wipe_offline(data)
    seconds = round(time.monotonic() - started, 3)
    result = {"wiped": True, "running": running, "seconds": seconds, "files": swept["files"]}
    inv.emit(
        result,
        f"Wiped {data} in {seconds} s"
        + (" (the running node destroyed its keys and stopped)." if running else ".")
        + "\nNothing in it can be decrypted any more.",
    )
    return 0


COMMANDS = (
    Command(
        "passphrase.change",
        "Change the admin passphrase (only the data key is rewrapped; no data changes).",
        args=(
            Arg(
                "old",
                Secret(),
                flag="--old-file",
                metavar="F",
                help="file with the current passphrase",
            ),
            Arg(
                "new",
                Secret(min_chars=1),
                flag="--new-file",
                metavar="F",
                help="file with the new one",
                required=True,
                cli_required=True,
                missing="give the new passphrase with --new-file F",
                outside=True,
            ),
        ),
        handler=_passphrase_change,
        show=lambda r: "Passphrase changed.",
        output=("changed", "mode"),
    ),
    Command(
        "passphrase.duress",
        "Set (or clear) a duress passphrase: given where the admin passphrase is asked, "
        "it wipes the node and answers as a wrong passphrase.",
        args=(
            Arg(
                "duress",
                Secret(min_chars=1),
                flag="--duress-file",
                metavar="F",
                help="file with the duress passphrase (it must differ from the admin one)",
                example="a duress passphrase 0001",
            ),
            Arg(
                "clear",
                Bool(),
                default=False,
                help="remove the duress passphrase",
            ),
        ),
        handler=_passphrase_duress,
        show=_show_duress,
        output=("duress",),
    ),
    Command(
        "backup.create",
        "Write an encrypted backup of the running node to a new file.",
        args=(
            Arg(
                "out",
                FilePath(),
                metavar="FILE",
                required=True,
                cli_required=True,
                missing="give the backup file with --out FILE",
                outside=True,
                example="/nonexistent/alertnode-backup",
            ),
        ),
        handler=_backup_create,
        show=_show_backup,
        output=("out", "bytes", "alerts", "peers", "members", "seconds"),
    ),
    Command(
        "backup.restore",
        "Restore a backup into an empty or new data directory (offline).",
        args=(
            Arg("input", FilePath(), flag="--in", metavar="FILE", required=True, cli_required=True),
            Arg(
                "passphrase",
                Secret(prompt="Admin passphrase of the backup: "),
                flag="--passphrase-file",
                metavar="F",
                help="file with the passphrase the backup opens with",
                required=True,
                missing="give the admin passphrase in a file (--passphrase-file F)",
            ),
        ),
        runner=_run_restore,
        output=("data", "alerts"),
    ),
    Command(
        "wipe",
        "Destroy the node's keys and data, running or not.",
        args=(
            Arg(
                "confirm",
                Bool(only_true=True),
                flag="--yes",
                help="really destroy everything",
                required=True,
                missing=WIPE_MISSING,
                outside=True,
            ),
        ),
        handler=_wipe,
        runner=_run_wipe,
        output=("wiped", "files", "seconds"),
        unlocked=False,
    ),
)
