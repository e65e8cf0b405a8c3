"""Command rows for receipts: checking one a member shows (node/receipts.py).

Rule: the node checks a receipt with its keys alone, so the command needs an
unlocked node and reads nothing from the store; the command line sends the code,
or the text of the receipt file it names, never a path (the node's working
directory and rights are not the caller's).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError
from .table import Arg, Command, ParsedArgs, Result, Str

if TYPE_CHECKING:
    from .host import NodeControl

GROUPS = {"receipt": "check a receipt a member was given for a report"}
# A receipt file is three short lines; anything much longer is not one.
MAX_RECEIPT_TEXT_CHARS = 2000


@dataclass(frozen=True, slots=True)
class CodeOrFile(Str):
    """A receipt code, or (on the command line) the path of a receipt file, whose text
    is sent instead."""

    max_chars: int = MAX_RECEIPT_TEXT_CHARS
    min_chars: int = 1

    def read(self, ns: argparse.Namespace, arg: Arg) -> object:
        value = getattr(ns, arg.name)
        if not isinstance(value, str):
            return value
        path = Path(value)
        if not path.is_file():
            return value
        try:
            with path.open(encoding="utf-8", errors="replace") as f:
                return f.read(MAX_RECEIPT_TEXT_CHARS + 1)
        except OSError as exc:
            raise UsageError(f"cannot read {value}: {exc.strerror}") from None


async def _verify(node: NodeControl, args: ParsedArgs) -> Result:
    from .. import receipts

    keys = node.unlocked().keys
    ours = tuple(bytes(k.verify_key) for k in (keys.signing, *keys.previous))
    return receipts.verify(args.text("receipt"), keys.data_key, ours).to_json()


def _show(result: Result) -> str:
    if not result["valid"]:
        return "Not a receipt this node made (check that it was copied exactly)."
    text = f"Valid: this node received a report at {result['received']}."
    if result["report_sha256"]:
        text += f"\nSHA-256 of the report's canonical bytes: {result['report_sha256']}"
    return text


COMMANDS = (
    Command(
        "receipt.verify",
        "Check a receipt code or receipt file: whether this node made it, and when the "
        "report arrived.",
        args=(
            Arg(
                "receipt",
                CodeOrFile(),
                positional=True,
                metavar="FILE_OR_CODE",
                help="the code, or a receipt file",
                required=True,
                missing="give a receipt code or file",
                example="AEAA-AAAA-AAAA-AAAA-AAAA-AAAA",
            ),
        ),
        handler=_verify,
        show=_show,
        output=("valid", "form", "received", "report_sha256"),
    ),
)
