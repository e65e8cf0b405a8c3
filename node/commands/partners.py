"""Command rows for partner platforms and SMS gateways (issue 15, points 2-4).

Rule: a partner's token and a webhook's or gateway's secret are printed once, by the
command that makes them, and never again (``partner list`` and ``sms gateway list``
show names, scopes and kinds only). The JSON keys of ``partner add`` and ``partner
list`` are a contract: added to, never renamed.
"""

from __future__ import annotations

import ipaddress
import secrets
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..errors import UsageError
from .table import Arg, Choice, Command, ParsedArgs, Result, Secret, Str

if TYPE_CHECKING:
    from .host import NodeControl

GROUPS = {
    "partner": "partner platforms: tokens for checks, reports and referral codes",
    "sms": "the SMS check: gateways that deliver members' texts",
}
SCOPES = ("check", "report", "referral")
GATEWAYS = ("generic", "android", "twilio")
MAX_WEBHOOK_URL_CHARS = 500
MAX_CHANNEL_CHARS = 64


def webhook_url(text: str) -> str:
    """An https:// URL, or http:// to a loopback address (tests, a local relay).

    Raises UsageError."""
    url = text.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        host, parts = "", None
    loopback = False
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    ok = (
        parts is not None
        and host
        and "@" not in parts.netloc
        and len(url) <= MAX_WEBHOOK_URL_CHARS
        and (parts.scheme == "https" or (parts.scheme == "http" and loopback))
    )
    if not ok:
        raise UsageError("a webhook is an https:// address (http:// only to this machine)")
    return url


def parse_scopes(text: str) -> tuple[str, ...]:
    scopes = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    if not scopes or any(s not in SCOPES for s in scopes):
        raise UsageError(f"--scopes is a comma-separated list of {', '.join(SCOPES)}")
    return scopes


async def _add(node: NodeControl, args: ParsedArgs) -> Result:
    store = node.unlocked().store
    scopes = parse_scopes(args.text("scopes"))
    url = args.optional_text("webhook")
    url = webhook_url(url) if url else None
    partner, token = await store.partners.add(args.text("name"), scopes, node.clock.now())
    secret = await store.partners.set_webhook(partner.id, url) if url else None
    await store.audit.append(
        node.clock.now(),
        {"actor": "admin", "role": "admin", "action": "partner add", "partner": partner.id},
    )
    return {
        "id": partner.id,
        "token": token,
        "name": partner.name,
        "scopes": list(partner.scopes),
        "webhook_secret": secret,
    }


def _show_add(result: Result) -> str:
    text = (
        f"Added partner {result['name']} (id {result['id']}).\n"
        f"Token (shown once; give it to the partner over a safe channel):\n{result['token']}"
    )
    if result.get("webhook_secret"):
        text += f"\nWebhook signing secret (shown once):\n{result['webhook_secret']}"
    return text


async def _list(node: NodeControl, args: ParsedArgs) -> Result:
    store = node.unlocked().store
    counts = await store.partners.referral_counts()
    return {
        "partners": [
            {
                "id": p.id,
                "name": p.name,
                "scopes": list(p.scopes),
                "webhook": p.webhook is not None,
                "referrals": counts.get(p.id, {"unused": 0, "waiting": 0, "joined": 0}),
            }
            for p in await store.partners.active()
        ]
    }


def _show_list(result: Result) -> str:
    if not result["partners"]:
        return "No partners."
    return "\n".join(
        f"{p['id']}  {p['name']}  {','.join(p['scopes'])}  joined: {p['referrals']['joined']}"
        for p in result["partners"]
    )


async def _revoke(node: NodeControl, args: ParsedArgs) -> Result:
    store = node.unlocked().store
    partner = await store.partners.find(args.text("partner"))
    await store.partners.revoke(partner.id)
    await store.audit.append(
        node.clock.now(), {"actor": "admin", "role": "admin", "action": "partner revoke",
                           "partner": partner.id},
    )  # fmt: skip
    return {"id": partner.id, "revoked": True}


async def _gateway(node: NodeControl, args: ParsedArgs) -> Result:
    store = node.unlocked().store
    kind = args.text("kind")
    given = args.optional_text("secret")
    secret = given.strip() if given else secrets.token_urlsafe(32)
    if len(secret) < 16:
        raise UsageError("a gateway's signing key is at least 16 characters")
    channel = (args.optional_text("reply_channel") or "").strip()
    if kind == "android" and not channel:
        raise UsageError("the Android gateway answers through a channel: give --reply-channel")
    await store.sms.set_gateway(kind, secret, channel)
    return {"kind": kind, "path": f"/sms/v1/{'inbound' if kind == 'generic' else kind}",
            "secret": None if given else secret}  # fmt: skip


def _show_gateway(result: Result) -> str:
    text = f"The {result['kind']} gateway posts to {result['path']} on the web port."
    if result["secret"]:
        text += f"\nSigning secret (shown once):\n{result['secret']}"
    return text


async def _gateways(node: NodeControl, args: ParsedArgs) -> Result:
    store = node.unlocked().store
    return {"gateways": [{"kind": k, "reply_channel": c} for k, c in await store.sms.gateways()]}


async def _gateway_remove(node: NodeControl, args: ParsedArgs) -> Result:
    removed = await node.unlocked().store.sms.remove_gateway(args.text("kind"))
    return {"removed": removed}


COMMANDS = (
    Command(
        "partner.add",
        "Issue a token to a partner platform (shown once, stored hashed).",
        args=(
            Arg(
                "name",
                Str(max_chars=80, min_chars=1),
                positional=True,
                metavar="NAME",
                required=True,
                missing="give the partner's name",
                example="Classifieds",
            ),
            Arg(
                "scopes",
                Str(max_chars=100, min_chars=1),
                required=True,
                cli_required=True,
                help="comma-separated: check, report, referral",
                missing="give --scopes",
                example="check",
            ),
            Arg(
                "webhook",
                Str(max_chars=MAX_WEBHOOK_URL_CHARS),
                help="https:// address where answers to its reports are posted, signed",
                example=None,
            ),
        ),
        handler=_add,
        show=_show_add,
        output=("id", "token"),
    ),
    Command(
        "partner.list",
        "List partner platforms: id, name, scopes, referral counts (never tokens).",
        handler=_list,
        show=_show_list,
        output=("partners",),
    ),
    Command(
        "partner.revoke",
        "Revoke a partner's token at once (its calls get 401).",
        args=(
            Arg(
                "partner",
                Str(max_chars=80, min_chars=1),
                positional=True,
                metavar="NAME_OR_ID",
                required=True,
                missing="give the partner's name or id",
                example="1",
            ),
        ),
        handler=_revoke,
        show=lambda r: "Revoked.",
        output=("id", "revoked"),
    ),
    Command(
        "sms.gateway",
        "Set up an SMS gateway's webhook: its signing secret (made and shown once unless "
        "given) and, for gateways that cannot answer in the response, the reply channel.",
        args=(
            Arg(
                "kind",
                Choice(GATEWAYS),
                positional=True,
                metavar="KIND",
                required=True,
                missing="give the gateway: generic, android or twilio",
                example="generic",
            ),
            Arg(
                "secret",
                Secret(),
                flag="--secret-file",
                help="a file holding the signing key the gateway shows (else one is made)",
            ),
            Arg(
                "url",
                Str(max_chars=MAX_WEBHOOK_URL_CHARS),
                help="twilio: the exact https:// address set as its messaging webhook",
                example=None,
            ),
            Arg(
                "reply_channel",
                Str(max_chars=MAX_CHANNEL_CHARS),
                help="the notification channel answers are sent through",
                example="sms",
            ),
        ),
        handler=_gateway,
        show=_show_gateway,
        output=("kind", "path", "secret"),
    ),
    Command(
        "sms.list",
        "List the SMS gateways set up (never their secrets).",
        handler=_gateways,
        show=lambda r: (
            "\n".join(f"{g['kind']}  {g['reply_channel']}" for g in r["gateways"])
            or "No SMS gateways."
        ),
        output=("gateways",),
    ),
    Command(
        "sms.remove",
        "Stop taking texts from a gateway.",
        args=(
            Arg(
                "kind",
                Choice(GATEWAYS),
                positional=True,
                metavar="KIND",
                required=True,
                missing="give the gateway: generic, android or twilio",
                example="generic",
            ),
        ),
        handler=_gateway_remove,
        show=lambda r: "Removed." if r["removed"] else "That gateway was not set up.",
        output=("removed",),
    ),
)
