"""CLI commands for running a node: passphrase change, backup create/restore, wipe, demo.

Rule: ``wipe``, ``backup restore`` and ``demo`` are offline commands (they work
without a running node); ``wipe`` asks a running node to wipe itself first and then
sweeps the directory offline, so a hung or dead node cannot stop it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import sys
import time
from pathlib import Path
from typing import Any

from . import config as config_mod
from . import control
from .cli import _emit, _Parser, add_command, remote
from .errors import NodeError, UsageError

# A panic wipe must not wait on a hung node: after this, the CLI wipes offline.
WIPE_CALL_TIMEOUT_S = 1.5
WIPE_EXIT_WAIT_S = 2.0
NODE_MARKERS = ("keys.bin", "node.json", "store.db")


def _read(path: str | None, what: str) -> str:
    from .keystore import read_passphrase_file

    if not path:
        raise UsageError(f"give the {what} passphrase in a file (--passphrase-file F)")
    return read_passphrase_file(path)


def _passphrase_args(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "old": _read(args.old_file, "current") if args.old_file else None,
        "new": _read(args.new_file, "new"),
    }


def _backup_args(args: argparse.Namespace) -> dict[str, Any]:
    return {"out": str(Path(args.out).absolute())}


def _show_backup(result: dict[str, Any]) -> str:
    return (
        f"Wrote {result['out']} ({result['bytes']} bytes, {result['alerts']} alerts, "
        f"{result['peers']} peers, {result['members']} members) in {result['seconds']} s.\n"
        "It opens with the admin passphrase the node has now. Keep it somewhere safe."
    )


async def _restore(args: argparse.Namespace) -> int:
    from . import backup

    data = config_mod.data_dir(args.data)
    if args.passphrase_file or not sys.stdin.isatty():
        passphrase = _read(args.passphrase_file, "admin")
    else:
        passphrase = getpass.getpass("Admin passphrase of the backup: ")
    result = await backup.restore(Path(args.input).absolute(), data, passphrase)
    text = (
        f"Restored the node into {data}: {result['alerts']} alerts.\n"
        "Its feed epoch is new, so peers re-sync by id (no alert bodies twice).\n"
        f"Start it with: alertnode run --data {data}"
    )
    _emit(args, result, text)
    return 0


async def _wipe(args: argparse.Namespace) -> int:
    from . import wipe

    if not args.yes:
        raise UsageError(
            "a wipe destroys this node's keys and data for good; add --yes if you mean it"
        )
    data = config_mod.data_dir(args.data)
    if not data.is_dir() or not any((data / name).exists() for name in NODE_MARKERS):
        raise UsageError(f"{data} holds no alertnode node; nothing was wiped")
    started = time.monotonic()
    running = False
    with contextlib.suppress(NodeError, asyncio.TimeoutError, OSError):
        await asyncio.wait_for(control.call(data, "wipe", {"confirm": True}), WIPE_CALL_TIMEOUT_S)
        running = True
        deadline = time.monotonic() + WIPE_EXIT_WAIT_S
        while (data / "control.sock").exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    # Whatever the node did, sweep the directory (the node may be hung or dead).
    swept = wipe.wipe_offline(data)
    seconds = round(time.monotonic() - started, 3)
    result = {"wiped": True, "running": running, "seconds": seconds, "files": swept["files"]}
    _emit(
        args,
        result,
        f"Wiped {data} in {seconds} s"
        + (" (the running node destroyed its keys and stopped)." if running else ".")
        + "\nNothing in it can be decrypted any more.",
    )
    return 0


async def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    code: int = await run_demo(args.nodes, sys.stdout)
    return code


def register(sub: Any) -> None:
    passphrase = sub.add_parser("passphrase", help="change the admin passphrase")
    psub = passphrase.add_subparsers(dest="passphrase_command", required=True, parser_class=_Parser)
    p = add_command(
        psub,
        "change",
        remote("passphrase.change", _passphrase_args, lambda r: "Passphrase changed."),
        "Change the admin passphrase (rewraps the data key; re-encrypts nothing).",
        True,
    )
    p.add_argument("--old-file", metavar="F", help="file with the current passphrase")
    p.add_argument("--new-file", metavar="F", required=True, help="file with the new one")

    backup = sub.add_parser("backup", help="encrypted backups of the whole node")
    bsub = backup.add_subparsers(dest="backup_command", required=True, parser_class=_Parser)
    p = add_command(
        bsub,
        "create",
        remote("backup.create", _backup_args, _show_backup),
        "Write an encrypted backup of the running node to a new file.",
        True,
    )
    p.add_argument("--out", metavar="FILE", required=True)
    p = add_command(
        bsub,
        "restore",
        _restore,
        "Restore a backup into an empty or new data directory (offline).",
        True,
    )
    p.add_argument("--in", dest="input", metavar="FILE", required=True)
    p.add_argument(
        "--passphrase-file", metavar="F", help="file with the passphrase the backup opens with"
    )

    p = add_command(sub, "wipe", _wipe, "Destroy the node's keys and data, running or not.", True)
    p.add_argument("--yes", action="store_true", help="really destroy everything")

    p = add_command(sub, "demo", _demo, "Run a demo network of nodes on this machine.")
    p.add_argument("--nodes", type=int, default=5, help="how many nodes (3 to 12)")
