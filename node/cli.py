"""The ``alertnode`` command line: the contract in DESIGN.md, mapped onto the node.

Rule: every command takes ``--data DIR`` after its own words; ``--json`` prints exactly
one JSON object on stdout; any error is one sentence on stderr and a non-zero exit,
never a traceback. Offline commands work on the data directory; the others talk to
the running node over its control socket.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn

from protocol.errors import ProtocolError
from protocol.fields import CATEGORIES, TLP_LABELS

from . import config as config_mod
from . import control, initialise
from .errors import NodeError, UsageError

Runner = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]
DANGER_WORDS = {0: "none", 1: "nuisance", 2: "risky", 3: "dangerous"}
log = logging.getLogger("alertnode")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag as one sentence, not a usage dump."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"alertnode: {message} (see '{self.prog} --help')\n")
        raise SystemExit(2)


def _emit(args: argparse.Namespace, result: dict[str, Any], text: str) -> None:
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        sys.stdout.write(text + ("\n" if text and not text.endswith("\n") else ""))


def remote(
    name: str,
    build: Callable[[argparse.Namespace], dict[str, Any]],
    show: Callable[[dict[str, Any]], str],
) -> Runner:
    """A runner that sends control command ``name`` and prints its answer."""

    async def run(args: argparse.Namespace) -> int:
        result = await control.call(config_mod.data_dir(args.data), name, build(args))
        _emit(args, result, show(result))
        return 0

    return run


# --- offline commands ----------------------------------------------------------------


def _listens_everywhere(hostport: str) -> bool:
    host, _ = config_mod.parse_hostport(hostport, "--fed")
    return host in ("0.0.0.0", "::")  # noqa: S104 (detecting it, not binding)


async def _init(args: argparse.Namespace) -> int:
    passphrase = None
    if args.passphrase_file and args.no_passphrase:
        raise UsageError("give either --passphrase-file or --no-passphrase, not both")
    if args.passphrase_file:
        from .keystore import read_passphrase_file

        passphrase = read_passphrase_file(args.passphrase_file)
    elif not args.no_passphrase:
        if not sys.stdin.isatty():
            raise UsageError("give --passphrase-file F (or --no-passphrase for a test node)")
        passphrase = getpass.getpass("Admin passphrase: ")
        if getpass.getpass("Again: ") != passphrase:
            raise UsageError("the two passphrases differ")
    result = await initialise.init_node(
        config_mod.data_dir(args.data),
        name=args.name,
        web=args.web,
        fed=args.fed,
        public_url=args.public_url,
        region=args.region,
        passphrase=passphrase,
        allow_http=args.allow_http,
        socks_proxy=args.socks_proxy or "",
    )
    text = (
        f"Initialised node {args.name!r} in {result['data']}.\n"
        + (
            "WARNING: no passphrase: the data key sits in data.key beside the data; "
            "anyone who copies the directory can read it. Use this only for testing.\n"
            if passphrase is None
            else ""
        )
        + (
            "NOTE: the federation URL in the card listens on every address "
            "(0.0.0.0 or ::); give --public-url with an address peers can reach.\n"
            if not args.public_url and _listens_everywhere(args.fed)
            else ""
        )
        + (
            f"\nNode card (give this to organisations you pair with):\n{result['card']}\n"
            if result["card"]
            else "\nThe node card is shown by 'alertnode card' once the node runs.\n"
        )
        + f"\nFirst admin invite code: {result['invite']}\n"
        f"\nStart it with: alertnode run --data {result['data']}\n"
    )
    _emit(args, result, text)
    return 0


async def _run(args: argparse.Namespace) -> int:
    from .app import Node

    data = config_mod.data_dir(args.data)
    cfg = config_mod.load(data)
    passphrase = None
    if args.passphrase_file:
        from .keystore import read_passphrase_file

        passphrase = read_passphrase_file(args.passphrase_file)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    node = Node(data, cfg)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, node.stopped.set)
    try:
        await node.start(passphrase)
        state = "locked: unlock it with 'alertnode unlock'" if node.locked else "unlocked"
        sys.stdout.write(
            f"alertnode {cfg.name!r} is running ({state}).\nOpen {node.web_url} in a browser.\n"
        )
        sys.stdout.flush()
        await node.stopped.wait()
    finally:
        await node.stop()
    return 0


async def _card(args: argparse.Namespace) -> int:
    result = await initialise.read_card(config_mod.data_dir(args.data))
    _emit(args, result, result["card"])
    return 0


# --- remote commands -----------------------------------------------------------------


def _unlock_args(args: argparse.Namespace) -> dict[str, Any]:
    from .keystore import read_passphrase_file

    if args.passphrase_file:
        return {"passphrase": read_passphrase_file(args.passphrase_file)}
    if not sys.stdin.isatty():
        raise UsageError("give --passphrase-file F")
    return {"passphrase": getpass.getpass("Admin passphrase: ")}


def _publish_args(args: argparse.Namespace) -> dict[str, Any]:
    indicators = [
        [kind, value]
        for kind in ("phone", "email", "handle", "plate")
        for value in getattr(args, kind) or []
    ]
    return {
        "categories": args.category,
        "danger": args.danger,
        "region": args.region,
        "indicators": indicators,
        "description": args.description or "",
        "lang": args.lang,
        "hops": args.hops,
        "tlp": args.tlp,
        "expires_days": args.expires_days,
        "incident": args.incident,
        "supersedes": args.supersedes,
    }


def _show_alerts(result: dict[str, Any]) -> str:
    lines = []
    for a in result["alerts"]:
        lines.append(
            f"{a['id']}  {a['incident']}  {a['region']:<8} {DANGER_WORDS[a['danger']]:<9}"
            f" {','.join(a['categories'])}  ({a['organisation']})"
        )
    return "\n".join(lines) if lines else "No active alerts."


def _show_check(result: dict[str, Any]) -> str:
    if not result["matches"]:
        return "No alerts. That does not mean this person is safe."
    head = (
        f"{result['matches']} alert(s) from {result['organisations']} organisation(s); "
        f"highest danger: {DANGER_WORDS[result['max_danger']]}; "
        f"categories: {', '.join(result['categories'])}; latest: {result['latest']}"
    )
    body = [
        f"- {a['incident']} {a['region']} {DANGER_WORDS[a['danger']]}: {a['description']}"
        for a in result["alerts"]
    ]
    return "\n".join([head, *body])


def _check_args(args: argparse.Namespace) -> dict[str, Any]:
    for kind in ("phone", "email", "handle", "plate"):
        value = getattr(args, kind)
        if value is not None:
            return {"kind": kind, "value": value}
    raise UsageError("give one of --phone, --email, --handle or --plate")


def _show_status(result: dict[str, Any]) -> str:
    lines = [
        f"{result['name']}: {'locked' if result['locked'] else 'unlocked'}",
        f"web: {result['web']}",
    ]
    for key, value in result.get("counts", {}).items():
        lines.append(f"{key}: {value}")
    for name, job in result.get("jobs", {}).items():
        lines.append(f"job {name}: {job}")
    return "\n".join(lines)


# --- the parser ----------------------------------------------------------------------


def add_command(
    subparsers: Any, name: str, runner: Runner, help_text: str, json_flag: bool = False
) -> argparse.ArgumentParser:
    """Add a command that takes --data (and --json if asked)."""
    p: argparse.ArgumentParser = subparsers.add_parser(name, help=help_text, description=help_text)
    p.add_argument(
        "--data", metavar="DIR", help="data directory (default $ALERTNODE_DATA or ./data)"
    )
    if json_flag:
        p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(runner=runner)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="alertnode", description="A federated bad-date-list node.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def cmd(
        subparsers: Any, name: str, runner: Runner, help_text: str, json_flag: bool = False
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = subparsers.add_parser(
            name, help=help_text, description=help_text
        )
        p.add_argument(
            "--data", metavar="DIR", help="data directory (default $ALERTNODE_DATA or ./data)"
        )
        if json_flag:
            p.add_argument("--json", action="store_true", help="print one JSON object")
        p.set_defaults(runner=runner)
        return p

    p = cmd(sub, "init", _init, "Create a new node in an empty data directory.", True)
    p.add_argument("--name", required=True, help="the organisation's name, shown to peers")
    p.add_argument(
        "--passphrase-file", metavar="F", help="file whose first line is the admin passphrase"
    )
    p.add_argument(
        "--no-passphrase", action="store_true", help="keep the data key in a file (testing only)"
    )
    p.add_argument("--web", default=config_mod.DEFAULT_WEB, metavar="HOST:PORT")
    p.add_argument("--fed", default=config_mod.DEFAULT_FED, metavar="HOST:PORT")
    p.add_argument(
        "--public-url", metavar="URL", help="federation URL for the card (default https://FED)"
    )
    p.add_argument("--region", default="", metavar="CC", help="default region, like GB or GB-LND")
    p.add_argument(
        "--allow-http", action="store_true", help="plain HTTP federation on loopback (tests)"
    )
    p.add_argument(
        "--socks-proxy",
        metavar="URL",
        help="SOCKS5 proxy for .onion peers (Tor: socks5://127.0.0.1:9050)",
    )

    p = cmd(sub, "run", _run, "Run the node (web, federation and control socket).")
    p.add_argument("--passphrase-file", metavar="F")

    p = cmd(
        sub,
        "unlock",
        remote("unlock", _unlock_args, lambda r: "Unlocked."),
        "Unlock a running node.",
        True,
    )
    p.add_argument("--passphrase-file", metavar="F")

    cmd(sub, "card", _card, "Print this node's card.", True)

    p = cmd(
        sub, "status", remote("status", lambda a: {}, _show_status), "Show the node's state.", True
    )

    alert = sub.add_parser("alert", help="publish, list and retract alerts")
    asub = alert.add_subparsers(dest="alert_command", required=True, parser_class=_Parser)
    p = cmd(
        asub,
        "publish",
        remote("alert.publish", _publish_args, lambda r: r["id"]),
        "Publish an alert.",
        True,
    )
    p.add_argument("--category", action="append", required=True, choices=CATEGORIES)
    p.add_argument("--danger", type=int, required=True, choices=(1, 2, 3))
    p.add_argument("--region", required=True)
    for kind in ("phone", "email", "handle", "plate"):
        p.add_argument(f"--{kind}", action="append")
    p.add_argument("--description")
    p.add_argument("--lang", default="en")
    p.add_argument("--hops", type=int)
    p.add_argument("--tlp", default="GREEN", type=str.upper, choices=TLP_LABELS)
    p.add_argument("--expires-days", type=int)
    p.add_argument("--incident", metavar="YYYY-MM-DD", help="date of the incident (default today)")
    p.add_argument("--supersedes", metavar="ID", help="id of an earlier alert this replaces")
    p = cmd(
        asub,
        "list",
        remote("alert.list", lambda a: {"region": a.region, "limit": a.limit}, _show_alerts),
        "List active alerts, newest first.",
        True,
    )
    p.add_argument("--region")
    p.add_argument("--limit", type=int, help="at most this many (default: all)")
    p = cmd(
        asub,
        "retract",
        remote(
            "alert.retract",
            lambda a: {"id": a.id, "reason": a.reason},
            lambda r: f"Retracted {r['id']}.",
        ),
        "Retract an alert this node published.",
        True,
    )
    p.add_argument("id")
    p.add_argument("--reason", default="other")

    p = cmd(sub, "check", remote("check", _check_args, _show_check), "Check an identifier.", True)
    group = p.add_mutually_exclusive_group(required=True)
    for kind in ("phone", "email", "handle", "plate"):
        group.add_argument(f"--{kind}")

    invite = sub.add_parser("invite", help="member invites")
    isub = invite.add_subparsers(dest="invite_command", required=True, parser_class=_Parser)
    p = cmd(
        isub,
        "create",
        remote("invite.create", lambda a: {"role": a.role, "days": a.days}, lambda r: r["code"]),
        "Create an invite code.",
        True,
    )
    p.add_argument("--role", default="member", choices=("member", "caseworker", "admin"))
    p.add_argument("--days", type=int, help="days the code stays valid")
    # Each area registers its own commands.
    from . import cli_federation, cli_ops

    cli_federation.register(sub)
    cli_ops.register(sub)  # passphrase, backup, wipe and demo (offline: wipe, restore, demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = asyncio.run(args.runner(args))
        return code
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
