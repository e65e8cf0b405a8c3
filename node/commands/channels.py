"""Command rows for notification channels (issue 15): add, list, remove, test.

Rule: a channel's URL goes in through ``channel add`` and never comes back out: no
answer, listing, log line or error holds it (it may carry a password or a token);
answers name a channel by its name and kind (the URL's scheme) only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .table import Arg, Command, ParsedArgs, Result, Str

if TYPE_CHECKING:
    from .host import NodeControl

GROUPS = {"channel": "notification channels members can choose (apprise URLs)"}
NAME_CHARS = 40
TEST_TEXT = "A test message from the node's admin."


def _name(value: str) -> str:
    from ..errors import UsageError

    name = value.strip()
    if not name or any(not (ch.isalnum() or ch in "-_.") for ch in name):
        raise UsageError("a channel name is letters, digits, '-', '_' or '.'")
    return name


async def _add(node: NodeControl, args: ParsedArgs) -> Result:
    from ..notify.channels import kind_of

    name = _name(args.text("name"))
    url = args.text("url").strip()
    kind = kind_of(url)
    await node.unlocked().store.notify.add_channel(name, kind, url)
    return {"name": name, "kind": kind}


async def _list(node: NodeControl, args: ParsedArgs) -> Result:
    return {"channels": await node.unlocked().notifier.status()}


def _show_list(result: Result) -> str:
    if not result["channels"]:
        return "No channels yet. Add one with 'alertnode channel add NAME URL'."
    lines = []
    for c in result["channels"]:
        error = f" last error: {c['last_error']}" if c["last_error"] else ""
        lines.append(f"{c['name']}  {c['kind']}  {c['state']}  queue={c['queue']}{error}")
    return "\n".join(lines)


async def _remove(node: NodeControl, args: ParsedArgs) -> Result:
    name = args.text("name")
    subscriptions = await node.unlocked().store.notify.remove_channel(name)
    return {"name": name, "subscriptions": subscriptions}


async def _test(node: NodeControl, args: ParsedArgs) -> Result:
    from ..notify.outbox import send_direct

    name = args.text("name")
    await send_direct(node, name, args.text("to"), TEST_TEXT)
    return {"name": name, "sent": True}


NAME = Arg(
    "name",
    Str(min_chars=1, max_chars=NAME_CHARS),
    positional=True,
    required=True,
    missing="give the channel's name",
    example="email",
)

COMMANDS = (
    Command(
        "channel.add",
        "Add a notification channel: an apprise URL without the recipient (it is sealed "
        "and never shown again).",
        args=(
            NAME,
            Arg(
                "url",
                Str(min_chars=1, max_chars=2000),
                positional=True,
                required=True,
                missing="give the channel's apprise URL",
                example="mailtos://user:pass@mail.example.org",
            ),
        ),
        handler=_add,
        show=lambda r: f"Added channel {r['name']} ({r['kind']}).",
        output=("name", "kind"),
    ),
    Command(
        "channel.list",
        "List notification channels: name, kind, state, last error, queue (never the URL).",
        handler=_list,
        show=_show_list,
        output=("channels",),
    ),
    Command(
        "channel.remove",
        "Remove a notification channel, the subscriptions to it and its queue.",
        args=(NAME,),
        handler=_remove,
        show=lambda r: f"Removed channel {r['name']} and {r['subscriptions']} subscription(s).",
        output=("name", "subscriptions"),
    ),
    Command(
        "channel.test",
        "Send a test message through a channel to one address.",
        args=(
            NAME,
            Arg(
                "to",
                Str(min_chars=1, max_chars=320),
                metavar="ADDRESS",
                help="the recipient: an e-mail address, phone number, topic or room",
                required=True,
                missing="give the address to send the test to with --to",
                outside=True,
            ),
        ),
        handler=_test,
        show=lambda r: f"Sent a test message through {r['name']}.",
        output=("name", "sent"),
    ),
)
