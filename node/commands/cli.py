"""The ``alertnode`` command line, generated from the command table.

Rule: every command takes ``--data DIR`` after its own words; ``--json`` prints exactly
one JSON object on stdout; any error is one sentence on stderr and a non-zero exit,
never a traceback. A row with a ``runner`` works in this process (offline commands,
and the few that drive several socket calls); every other row is sent to the running
node over its control socket, which checks the arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any, NoReturn

from protocol.errors import ProtocolError

from .. import config as config_mod
from ..errors import NodeError
from . import (
    alerts,
    channels,
    client,
    lifecycle,
    ops,
    organisation,
    partners,
    peers,
    receipts,
    settings,
    translations,
)
from .rows import ROWS
from .table import Arg, Command, Invocation, emit, parse_args

# THE table: every command, in the order 'alertnode --help' lists them.
TABLE: tuple[Command, ...] = (*lifecycle.COMMANDS, *ROWS)
GROUPS: dict[str, str] = {
    **alerts.GROUPS,
    **peers.GROUPS,
    **ops.GROUPS,
    **receipts.GROUPS,
    **channels.GROUPS,
    **translations.GROUPS,
    **partners.GROUPS,
    **settings.GROUPS,
    **organisation.GROUPS,
}
DATA_HELP = "data directory (default $ALERTNODE_DATA or ./data)"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag as one sentence, not a usage dump."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"alertnode: {message} (see '{self.prog} --help')\n")
        raise SystemExit(2)


def _add_arg(parser: argparse.ArgumentParser, arg: Arg) -> None:
    if arg.one_of:
        group = parser.add_mutually_exclusive_group(required=arg.required)
        for flag in arg.one_of:
            group.add_argument(flag, help=arg.help or None)
    elif arg.cli:
        arg.kind.add_to(parser, arg)


def _read_arg(ns: argparse.Namespace, arg: Arg, raw: dict[str, Any]) -> None:
    if arg.one_of:
        for flag in arg.one_of:
            value = getattr(ns, flag.lstrip("-"))
            if value is not None:
                raw[arg.name], raw[arg.tag] = value, flag.lstrip("-")
        return
    if arg.cli:
        raw[arg.name] = arg.kind.read(ns, arg)


def build_parser(table: tuple[Command, ...] = TABLE) -> argparse.ArgumentParser:
    parser = _Parser(prog="alertnode", description="A federated bad-date-list node.")
    top = parser.add_subparsers(dest="words", required=True, parser_class=_Parser)
    groups: dict[str, Any] = {}
    for command in table:
        if not command.cli:
            continue
        subparsers = top
        if len(command.words) > 1:
            first = command.words[0]
            if first not in groups:
                group = top.add_parser(first, help=GROUPS.get(first))
                groups[first] = group.add_subparsers(
                    dest=f"{first}_command", required=True, parser_class=_Parser
                )
            subparsers = groups[first]
        p = subparsers.add_parser(command.words[-1], help=command.help, description=command.help)
        p.add_argument("--data", metavar="DIR", help=DATA_HELP)
        if command.json:
            p.add_argument("--json", action="store_true", help="print one JSON object")
        for arg in command.args:
            _add_arg(p, arg)
        p.set_defaults(row=command)
    return parser


async def run(command: Command, ns: argparse.Namespace) -> int:
    """Run ``command`` as the command line gave it. Raises NodeError, ProtocolError."""
    raw: dict[str, Any] = {}
    for arg in command.args:
        _read_arg(ns, arg, raw)
    data_dir = config_mod.data_dir(ns.data)
    as_json = bool(getattr(ns, "json", False))
    if command.runner is not None:
        inv = Invocation(data_dir, parse_args(command, raw), as_json)
        return await command.runner(inv)
    result = await client.call(data_dir, command.name, raw)
    emit(as_json, result, command.show(result))
    return 0


# Files and directories the process creates are its user's alone (the database, its
# WAL, backups), also when it runs outside the systemd unit (which sets UMask=0077).
PROCESS_UMASK = 0o077


def main(argv: list[str] | None = None) -> int:
    os.umask(PROCESS_UMASK)
    ns = build_parser().parse_args(argv)
    try:
        return asyncio.run(run(ns.row, ns))
    except NodeError as exc:
        sys.stderr.write(f"alertnode: {exc.message}\n")
        return exc.exit_code
    except ProtocolError as exc:
        sys.stderr.write(f"alertnode: {exc.message}\n")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
