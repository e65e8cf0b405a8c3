"""Command rows for the node's settings: list them, set one.

Rule: ``settings set`` validates exactly as the admin page does (``node.settings.validate``
on the text an admin typed, the same table, the same sentences), stores the value only
when it changed, and a refused value changes nothing. Values are never logged (regions
name where members work).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..setting_kinds import MAX_SETTING_CHARS
from .table import Arg, Command, ParsedArgs, Result, Str

if TYPE_CHECKING:
    from .host import NodeControl

GROUPS = {"settings": "the node's settings, as on the admin page"}
MAX_NAME_CHARS = 64


async def _list(node: NodeControl, args: ParsedArgs) -> Result:
    return {"settings": node.unlocked().settings.as_dict()}


def _show_list(result: Result) -> str:
    return "\n".join(f"{name} = {json.dumps(value)}" for name, value in result["settings"].items())


async def _set(node: NodeControl, args: ParsedArgs) -> Result:
    from ..settings import validate
    from ..warnings import setting_changed

    parts = node.unlocked()
    name, text = args.text("name"), args.text("value")
    value = validate(name, text)
    changed = value != parts.settings[name]
    if changed:
        parts.settings.set(name, value)
        await parts.store.settings.put(name, value)
        await setting_changed(parts.store.alerts, name, value)
    return {"name": name, "value": value, "changed": changed}


def _show_set(result: Result) -> str:
    if not result["changed"]:
        return f"{result['name']} was already {json.dumps(result['value'])}."
    return f"{result['name']} is now {json.dumps(result['value'])}."


COMMANDS = (
    Command(
        "settings.list",
        "List every setting and its current value.",
        handler=_list,
        show=_show_list,
        output=("settings",),
    ),
    Command(
        "settings.set",
        "Set one setting, checked as the admin page checks it (see the admin guide).",
        args=(
            Arg(
                "name",
                Str(max_chars=MAX_NAME_CHARS, min_chars=1),
                positional=True,
                metavar="NAME",
                help="the setting's name, as 'settings list' shows it",
                required=True,
                missing="give the setting's name",
                example="alert_hops",
            ),
            Arg(
                "value",
                Str(max_chars=MAX_SETTING_CHARS),
                positional=True,
                metavar="VALUE",
                help="the new value, as typed on the admin page",
                required=True,
                missing="give the new value",
                example="2",
            ),
        ),
        handler=_set,
        show=_show_set,
        output=("name", "value", "changed"),
    ),
)
