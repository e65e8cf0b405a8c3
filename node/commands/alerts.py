"""Command rows for the node itself and its alerts: status, unlock, stop, alert
publish/list/retract, check, invite create.

Rule: handlers receive checked arguments (``ParsedArgs``) and return one JSON object
whose top-level keys include the row's ``output``; they validate nothing the table
can say.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from protocol.fields import CATEGORIES, TLP_LABELS

from ..errors import UsageError
from .table import (
    Arg,
    Bool,
    Choice,
    Command,
    Indicators,
    Int,
    List,
    ParsedArgs,
    Result,
    Secret,
    Str,
)

if TYPE_CHECKING:
    from .host import NodeControl

DANGER_WORDS = {0: "none", 1: "nuisance", 2: "risky", 3: "dangerous"}
CHECK_KINDS = ("phone", "email", "handle", "plate")
MAX_INVITE_DAYS = 365
GROUPS = {"alert": "publish, list and retract alerts", "invite": "member invites"}


async def _status(node: NodeControl, args: ParsedArgs) -> Result:
    return await node.status()


def _show_status(result: Result) -> str:
    lines = [
        f"{result['name']}: {'locked' if result['locked'] else 'unlocked'}",
        f"web: {result['web']}",
    ]
    for key, value in result.get("counts", {}).items():
        lines.append(f"{key}: {value}")
    for name, job in result.get("jobs", {}).items():
        lines.append(f"job {name}: {job}")
    return "\n".join(lines)


async def _unlock(node: NodeControl, args: ParsedArgs) -> Result:
    await node.unlock(args.text("passphrase"))
    return {"locked": node.locked}


async def _stop(node: NodeControl, args: ParsedArgs) -> Result:
    node.stopped.set()
    return {"stopping": True}


def parse_translations(items: list[str]) -> list[tuple[str, str]]:
    """``LANG=TEXT`` items as (language tag, text) pairs. Raises UsageError."""
    pairs = []
    for item in items:
        lang, sep, text = item.partition("=")
        if not sep or not lang.strip():
            raise UsageError("a translation is written LANG=TEXT, e.g. fr=Il a refusé de payer.")
        pairs.append((lang.strip(), text))
    return pairs


async def _publish(node: NodeControl, args: ParsedArgs) -> Result:
    from ..service import Draft, parse_alert_id  # the CLI loads this module too

    service = node.unlocked().alerts
    supersedes = args.optional_text("supersedes")
    draft = Draft(
        categories=args.items("categories"),
        danger=args.number("danger"),
        region=args.text("region"),
        indicators=args.items("indicators"),
        description=args.text("description"),
        lang=args.text("lang"),
        hops=args.optional_number("hops"),
        tlp=args.text("tlp"),
        expires_days=args.optional_number("expires_days"),
        incident=args.optional_text("incident"),
        supersedes=parse_alert_id(supersedes) if supersedes is not None else None,
        translations=parse_translations(args.items("translations")),
        partner_checks=args.flag("partner_checks"),
        idempotency_key=args.optional_text("idempotency_key"),
    )
    alert_id = await service.publish(draft)
    return {"id": alert_id.hex()}


async def _list(node: NodeControl, args: ParsedArgs) -> Result:
    service = node.unlocked().alerts
    limit = args.optional_number("limit")
    return {"alerts": await service.list(region=args.optional_text("region"), limit=limit or -1)}


def _show_alerts(result: Result) -> str:
    lines = [
        f"{a['id']}  {a['incident']}  {a['region']:<8} {DANGER_WORDS[a['danger']]:<9}"
        f" {'warning:' + a['warning'] if a.get('warning') else ','.join(a['categories'])}"
        f"  ({a['organisation']})"
        for a in result["alerts"]
    ]
    return "\n".join(lines) if lines else "No active alerts."


async def _retract(node: NodeControl, args: ParsedArgs) -> Result:
    from ..service import parse_alert_id

    service = node.unlocked().alerts
    alert_id = parse_alert_id(args.text("id"))
    retraction = await service.retract(alert_id, args.text("reason"))
    return {"id": alert_id.hex(), "retraction": retraction.hex()}


async def _check(node: NodeControl, args: ParsedArgs) -> Result:
    service = node.unlocked().alerts
    return await service.check(args.text("kind"), args.text("value"))


def _show_check(result: Result) -> str:
    if not result["matches"]:
        return "No alerts. That does not mean this person is safe."
    unknown = result["unknown_organisation_alerts"]
    known = result["matches"] - unknown
    head = f"{known} alert(s) from {result['organisations']} organisation(s) this node knows"
    if unknown:
        head += (
            f", and {unknown} more relayed from organisations this node does not know"
            " (it cannot tell how many)"
        )
    head += (
        f"; highest danger: {DANGER_WORDS[result['max_danger']]}; "
        f"categories: {', '.join(result['categories'])}; latest: {result['latest']}"
    )
    body = [
        f"- {a['incident']} {a['region']} {DANGER_WORDS[a['danger']]}: {a['description']}"
        for a in result["alerts"]
    ]
    return "\n".join([head, *body])


async def _invite(node: NodeControl, args: ParsedArgs) -> Result:
    unlocked = node.unlocked()
    store, settings = unlocked.store, unlocked.settings
    role = args.text("role")
    now = node.clock.now()
    days = args.optional_number("days") or settings["invite_expiry_days"]
    code = await store.members.create_invite(role, now + days * 86400, now)
    return {"code": code, "role": role, "expires": now + days * 86400}


COMMANDS = (
    Command(
        "unlock",
        "Unlock a running node.",
        args=(
            Arg(
                "passphrase",
                Secret(prompt="Admin passphrase: "),
                flag="--passphrase-file",
                metavar="F",
                required=True,
                missing="give --passphrase-file F",
                example="anything",
            ),
        ),
        handler=_unlock,
        show=lambda r: "Unlocked.",
        output=("locked",),
        unlocked=False,
    ),
    Command(
        "status",
        "Show the node's state.",
        handler=_status,
        show=_show_status,
        output=("name", "key", "locked", "web", "federation", "jobs"),
        unlocked=False,
    ),
    Command(
        "stop",
        "Stop the node (socket only).",
        handler=_stop,
        output=("stopping",),
        cli=False,
        unlocked=False,
    ),
    Command(
        "alert.publish",
        "Publish an alert.",
        args=(
            Arg(
                "categories",
                List(Choice(CATEGORIES), min_items=1),
                flag="--category",
                required=True,
                cli_required=True,
                missing="give at least one --category",
                example=["violence"],
            ),
            Arg("danger", Int(1, 3), required=True, cli_required=True, example=3),
            Arg("region", Str(), required=True, cli_required=True, example="GB"),
            Arg("indicators", Indicators(CHECK_KINDS), default=[]),
            Arg("description", Str(), default="", example="Refused to pay."),
            Arg("lang", Str(), default="en", example="en"),
            Arg("hops", Int()),
            Arg("tlp", Choice(TLP_LABELS, upper=True), default="GREEN", example="GREEN"),
            Arg("expires_days", Int(), example=30),
            Arg(
                "incident",
                Str(),
                metavar="YYYY-MM-DD",
                help="date of the incident (default today)",
                example="2025-01-01",
            ),
            Arg(
                "supersedes",
                Str(),
                metavar="ID",
                help="id of an earlier alert this replaces",
                example="00" * 32,
            ),
            Arg(
                "translations",
                List(Str()),
                flag="--translation",
                metavar="LANG=TEXT",
                help="the description in another language (repeatable)",
                default=[],
                example=["fr=Il a refusé de payer."],
            ),
            Arg(
                "partner_checks",
                Bool(),
                default=False,
                help="let other organisations use it to answer partner platforms' checks",
            ),
            Arg(
                "idempotency_key",
                Str(),
                metavar="KEY",
                help="the same key again returns the first publish's id (kept 24 h)",
                example="publish-2025-01-01-1",
            ),
        ),
        handler=_publish,
        show=lambda r: str(r["id"]),
        output=("id",),
    ),
    Command(
        "alert.list",
        "List active alerts, newest first.",
        args=(
            Arg("region", Str(), example="GB"),
            Arg("limit", Int(min=1), help="at most this many (default: all)", example=10),
        ),
        handler=_list,
        show=_show_alerts,
        output=("alerts",),
    ),
    Command(
        "alert.retract",
        "Retract an alert this node published.",
        args=(
            Arg("id", Str(), positional=True, required=True, example="00" * 32),
            Arg("reason", Str(), default="other", example="mistaken"),
        ),
        handler=_retract,
        show=lambda r: f"Retracted {r['id']}.",
        output=("id", "retraction"),
    ),
    Command(
        "check",
        "Check an identifier.",
        args=(
            Arg("kind", Choice(CHECK_KINDS), required=True, cli=False),
            Arg(
                "value",
                Str(),
                required=True,
                one_of=tuple(f"--{kind}" for kind in CHECK_KINDS),
                tag="kind",
                example="+447700900123",
            ),
        ),
        handler=_check,
        show=_show_check,
        output=(
            "matches",
            "organisations",
            "unknown_organisation_alerts",
            "max_danger",
            "categories",
            "latest",
            "alerts",
        ),
    ),
    Command(
        "invite.create",
        "Create an invite code.",
        args=(
            Arg("role", Choice(("member", "caseworker", "admin")), default="member"),
            Arg("days", Int(1, MAX_INVITE_DAYS), help="days the code stays valid", example=3),
        ),
        handler=_invite,
        show=lambda r: str(r["code"]),
        output=("code", "role", "expires"),
    ),
)
