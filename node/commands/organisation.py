"""Command rows for running the organisation around the list (issue 16): area warnings,
donor totals and moving the node to new addresses.

Rule: these rows load no node machinery at import (the CLI reads them for every
command); handlers import what they use. A warning is published only through
``node.warnings`` (refused while the ``area_warnings`` setting is off).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from protocol.fields import TLP_LABELS
from protocol.warning import WARNING_KINDS

from .table import Arg, Choice, Command, Int, ParsedArgs, Result, Str

if TYPE_CHECKING:
    from .host import NodeControl

GROUPS = {"warning": "area warnings that name no person (when the organisation offers them)"}


async def _totals(node: NodeControl, args: ParsedArgs) -> Result:
    from ..totals import report

    parts = node.unlocked()
    await parts.alerts.flush_counts()
    return await report(
        parts.store, node.clock.now(), args.optional_text("from_month"), args.optional_text("to")
    )


def _show_totals(result: Result) -> str:
    lines = [f"Totals {result['from']} to {result['to']} (counts under 5 are not shown):"]
    for p in result["periods"]:
        lines.append(
            f"{p['period']} ({p['first_month']} to {p['last_month']}): members {p['members']},"
            f" new members {p['new_members']}, checks {p['checks']}, reports {p['reports']},"
            f" alerts published {p['alerts_published']}, alerts received"
            f" {p['alerts_received']}, area warnings published {p['warnings_published']}"
        )
    return "\n".join(lines)


async def _move(node: NodeControl, args: ParsedArgs) -> Result:
    from .. import config as config_mod
    from ..network.moves import moved_config

    parts = node.unlocked()
    old = node.config
    new = moved_config(
        old, args.text("public_url"), args.optional_text("fed"), args.optional_text("web")
    )
    result = await parts.trust.move(new)
    config_mod.save(node.data_dir, new)
    node.config = new
    # The listeners keep their sockets until the node starts again.
    return {**result, "restart": (new.fed, new.web) != (old.fed, old.web)}


def _show_move(result: Result) -> str:
    lines = [f"This node now announces {result['url']}."]
    if result["told"]:
        lines.append(f"Told now: {', '.join(result['told'])}.")
    for missed in result["missed"]:
        lines.append(f"Not reached yet: {missed['name']} (retried until it is).")
    if result["restart"]:
        lines.append("Restart the node to listen on the new --fed/--web addresses.")
    return "\n".join(lines)


async def _warning_publish(node: NodeControl, args: ParsedArgs) -> Result:
    from ..warnings import publish_warning, warning_draft

    parts = node.unlocked()
    draft = warning_draft(
        args.text("kind"),
        args.number("danger"),
        args.text("region"),
        args.text("description"),
        args.optional_number("expires_days"),
        args.text("lang"),
        args.optional_number("hops"),
        args.text("tlp"),
        args.optional_text("idempotency_key"),
    )
    warning_id = await publish_warning(parts.alerts, parts.settings, draft)
    return {"id": warning_id.hex()}


def _show_published(result: Result) -> str:
    return f"Published warning {result['id']}. Retract it with 'alertnode alert retract ID'."


COMMANDS = (
    Command(
        "totals",
        "Coarse totals by quarter for funders: members, checks, reports, alerts; counts "
        "under 5 are shown as 'fewer than 5'.",
        args=(
            Arg(
                "from_month",
                Str(max_chars=7),
                flag="--from",
                metavar="YYYY-MM",
                help="first month (default: the first quarter with data)",
                example="2026-01",
            ),
            Arg(
                "to",
                Str(max_chars=7),
                metavar="YYYY-MM",
                help="last month (default: this month)",
                example="2026-12",
            ),
        ),
        handler=_totals,
        show=_show_totals,
        output=("periods", "from", "to"),
    ),
    Command(
        "move",
        "Announce new addresses after moving host: a statement signed by the node key "
        "tells every peer, which keep syncing without pairing again.",
        args=(
            Arg(
                "public_url",
                Str(min_chars=1, max_chars=500),
                required=True,
                cli_required=True,
                metavar="URL",
                help="the federation URL peers reach this node at now",
                example="https://moved.example.org:8443",
                outside=True,
            ),
            Arg("fed", Str(min_chars=1), metavar="HOST:PORT", help="listen here for peers"),
            Arg("web", Str(min_chars=1), metavar="HOST:PORT", help="serve the web app here"),
        ),
        handler=_move,
        show=_show_move,
        output=("url", "told", "missed", "restart"),
    ),
    Command(
        "warning.publish",
        "Publish an area warning that names no person (a police or immigration operation, "
        "a hunt through an app, an area to avoid); refused unless area_warnings is on.",
        args=(
            Arg("kind", Choice(WARNING_KINDS), required=True, cli_required=True),
            Arg("danger", Int(1, 3), required=True, cli_required=True, example=2),
            Arg("region", Str(min_chars=1), required=True, cli_required=True, example="GB"),
            Arg("description", Str(), default="", example="Police checks near the station."),
            Arg("expires_days", Int(), help="days until it expires (default 7, at most 30)"),
            Arg("lang", Str(), default="en", example="en"),
            Arg("hops", Int()),
            Arg("tlp", Choice(TLP_LABELS, upper=True), default="GREEN", example="GREEN"),
            Arg("idempotency_key", Str(), cli=False, example="w1"),
        ),
        handler=_warning_publish,
        show=_show_published,
        output=("id",),
    ),
)
