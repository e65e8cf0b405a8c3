"""Command rows that make or run nodes: init, run, demo (all offline).

Rule: these are the only rows that start a node in this process, so this is the only
command module that imports node/app.py (through node/ops/demo.py too); the socket
dispatch (``control``) never imports it, which keeps the import graph acyclic.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import signal
import sys

from .. import config as config_mod
from ..errors import UsageError
from ..ops.demo import MAX_NODES, MIN_NODES
from .table import Arg, Bool, Command, Int, Invocation, List, Secret, Str


def _listens_everywhere(hostport: str) -> bool:
    host, _ = config_mod.parse_hostport(hostport, "--fed")
    return host in ("0.0.0.0", "::")  # noqa: S104 (detecting it, not binding)


def _init_passphrase(inv: Invocation) -> str | None:
    passphrase = inv.args.optional_text("passphrase")
    if passphrase is not None and inv.args.flag("no_passphrase"):
        raise UsageError("give either --passphrase-file or --no-passphrase, not both")
    if passphrase is not None or inv.args.flag("no_passphrase"):
        return passphrase
    if not sys.stdin.isatty():
        raise UsageError("give --passphrase-file F (or --no-passphrase for a test node)")
    passphrase = getpass.getpass("Admin passphrase: ")
    if getpass.getpass("Again: ") != passphrase:
        raise UsageError("the two passphrases differ")
    return passphrase


def _init_region(inv: Invocation) -> str:
    """--region, or asked for at a terminal: a node without one refuses national numbers."""
    region = inv.args.text("region").strip()
    if not region and sys.stdin.isatty():
        # The question goes to stderr: with --json, stdout holds one JSON object only.
        sys.stderr.write("Country or region the node serves (like GB, FR or GB-LND): ")
        sys.stderr.flush()
        region = sys.stdin.readline().strip()
    if not region:
        raise UsageError(
            "give --region CC, the country (or region) the node serves, like GB, FR or "
            "GB-LND: phone numbers written without a country code are read as that country's"
        )
    return region


async def _run_init(inv: Invocation) -> int:
    args = inv.args
    region = _init_region(inv)
    passphrase = _init_passphrase(inv)
    public_url = args.optional_text("public_url")
    from ..ops import initialise  # keys and TLS libraries: only when a node is made

    result = await initialise.init_node(
        inv.data_dir,
        name=args.text("name"),
        web=args.text("web"),
        fed=args.text("fed"),
        public_url=public_url,
        region=region,
        passphrase=passphrase,
        allow_http=args.flag("allow_http"),
        socks_proxy=args.text("socks_proxy"),
        trusted_proxies=args.optional_items("trusted_proxies") or [],
    )
    text = (
        f"Initialised node {args.text('name')!r} in {result['data']}.\n"
        + (
            "WARNING: no passphrase: the data key sits in data.key beside the data; "
            "anyone who copies the directory can read it. Use this only for testing.\n"
            if passphrase is None
            else ""
        )
        + (
            "NOTE: the federation URL in the card listens on every address "
            "(0.0.0.0 or ::); give --public-url with an address peers can reach.\n"
            if not public_url and _listens_everywhere(args.text("fed"))
            else ""
        )
        + f"Phone numbers without a country code are read as {region.upper()[:2]} numbers "
        "(setting phone_region).\n"
        + (
            f"\nNode card (give this to organisations you pair with):\n{result['card']}\n"
            if result["card"]
            else "\nThe node card is shown by 'alertnode card' once the node runs.\n"
        )
        + f"\nStart it with: alertnode run --data {result['data']}\n"
        # The invite last, where a reader's eye lands after the long card.
        + f"\nFirst admin invite code: {result['invite']}\n"
        "Open the node in a browser, choose Sign up and give this code; it works once. "
        "For another one later (after a restart too), with the node running: "
        f"alertnode invite create --role admin --data {result['data']}\n"
    )
    inv.emit(result, text)
    return 0


async def _run_node(inv: Invocation) -> int:
    from ..app import Node

    cfg = config_mod.load(inv.data_dir)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    node = Node(inv.data_dir, cfg)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, node.stopped.set)
    try:
        await node.start(inv.args.optional_text("passphrase"))
        state = "locked: unlock it with 'alertnode unlock'" if node.locked else "unlocked"
        sys.stdout.write(
            f"alertnode {cfg.name!r} is running ({state}); Ctrl-C stops it.\n"
            f"Open {node.web_url} in a browser.\n"
        )
        sys.stdout.flush()
        await node.stopped.wait()
    finally:
        await node.stop()
    sys.stdout.write(f"alertnode {cfg.name!r} stopped.\n")
    sys.stdout.flush()
    return 0


async def _run_demo(inv: Invocation) -> int:
    from ..ops.demo import run_demo

    code: int = await run_demo(inv.args.number("nodes"), sys.stdout)
    return code


PASSPHRASE_FILE = Arg(
    "passphrase",
    Secret(),
    flag="--passphrase-file",
    metavar="F",
    help="file whose first line is the admin passphrase",
)

COMMANDS = (
    Command(
        "init",
        "Create a new node in an empty data directory.",
        args=(
            Arg(
                "name",
                Str(min_chars=1),
                required=True,
                cli_required=True,
                help="the organisation's name, shown to peers",
            ),
            PASSPHRASE_FILE,
            Arg(
                "no_passphrase",
                Bool(),
                default=False,
                help="keep the data key in a file (testing only)",
            ),
            Arg("web", Str(), default=config_mod.DEFAULT_WEB, metavar="HOST:PORT"),
            Arg("fed", Str(), default=config_mod.DEFAULT_FED, metavar="HOST:PORT"),
            Arg(
                "public_url",
                Str(),
                metavar="URL",
                help="federation URL for the card (default https://FED)",
            ),
            Arg(
                "region",
                Str(),
                default="",
                metavar="CC",
                help="the country or region the node serves, like GB or GB-LND (required; "
                "asked for at a terminal): numbers without a country code are read as its",
            ),
            Arg(
                "allow_http",
                Bool(),
                default=False,
                help="plain HTTP federation on loopback (tests)",
            ),
            Arg(
                "socks_proxy",
                Str(),
                default="",
                metavar="URL",
                help="SOCKS5 proxy for .onion peers (Tor: socks5://127.0.0.1:9050)",
            ),
            Arg(
                "trusted_proxies",
                List(Str(min_chars=1)),
                flag="--trusted-proxy",
                metavar="ADDRESS",
                help="address (or network) of the reverse proxy in front of the web app, "
                "whose X-Forwarded-For names the client; repeat for several",
            ),
        ),
        runner=_run_init,
        output=("data", "key", "card", "invite", "web", "fed"),
    ),
    Command(
        "run",
        "Run the node (web, federation and control socket).",
        args=(PASSPHRASE_FILE,),
        runner=_run_node,
        json=False,
    ),
    Command(
        "demo",
        "Run a demo network of nodes on this machine.",
        args=(
            Arg(
                "nodes",
                Int(MIN_NODES, MAX_NODES),
                default=5,
                help=f"how many nodes ({MIN_NODES} to {MAX_NODES})",
            ),
        ),
        runner=_run_demo,
        json=False,
    ),
)
