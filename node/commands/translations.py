"""Command rows for the organisation's own translators: export a language's catalogue,
import it back.

Rule: an import is checked and previewed before anything changes (``--dry-run`` stops
there) and, applied, takes effect on the next page without a restart; the node reads
and writes the files named here itself, as it does for backups. Everything it does is
in node/translations.py; this module only declares the rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError
from ..languages import DEFAULT_LANG, LANGUAGES
from .table import Arg, Bool, Choice, Command, FilePath, ParsedArgs, Result

if TYPE_CHECKING:
    from .host import NodeControl

GROUPS = {"translations": "export and import a language's catalogue for your own translators"}
TRANSLATED = tuple(code for code in LANGUAGES if code != DEFAULT_LANG)
MAX_SHOWN_CHANGES = 20


async def _export(node: NodeControl, args: ParsedArgs) -> Result:
    from .. import translations

    lang = args.text("lang")
    data = translations.export_po(lang, node.overrides)
    out = args.optional_text("out")
    counts = translations.counts(lang, node.overrides)
    if out is None:
        return {"lang": lang, "out": None, "bytes": len(data), "po": data.decode(), **counts}
    try:
        Path(out).write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror}") from None
    return {"lang": lang, "out": out, "bytes": len(data), "po": None, **counts}


def _show_export(result: Result) -> str:
    if result["out"] is None:
        return str(result["po"]).rstrip("\n")
    return (
        f"Wrote {result['out']}: the {result['lang']} catalogue ({result['translated']} of "
        f"{result['total']} entries translated, {result['overrides']} of them this node's own), "
        "with the glossary in its header. Import it back with: alertnode translations "
        f"import {result['lang']} FILE"
    )


async def _import(node: NodeControl, args: ParsedArgs) -> Result:
    from .. import translations

    path = Path(args.text("file"))
    try:
        with path.open("rb") as f:
            data = f.read(translations.MAX_IMPORT_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    preview = translations.check_import(args.text("lang"), data, node.overrides)
    applied = not args.flag("dry_run")
    if applied:
        translations.apply(preview, node.overrides)
    return {**preview.summary(), "applied": applied}


def _show_import(result: Result) -> str:
    lines = [
        f"{result['entries']} entries read: {result['changed']} changed, "
        f"{result['unchanged']} unchanged, {result['refused']} refused, "
        f"{result['unknown']} unknown to this version (ignored), {result['fuzzy']} fuzzy "
        "(ignored)."
    ]
    for change in result["changes"][:MAX_SHOWN_CHANGES]:
        lines.append(f"  {change['msgid']!r}: {change['before']!r} -> {change['after']!r}")
    if result["changed"] > MAX_SHOWN_CHANGES:
        lines.append(f"  ... and {result['changed'] - MAX_SHOWN_CHANGES} more")
    for refusal in result["refusals"][:MAX_SHOWN_CHANGES]:
        lines.append(f"  refused {refusal['msgid']!r}: {refusal['reason']}")
    lines.append(
        "Applied: pages show the new words now."
        if result["applied"]
        else "Nothing changed (--dry-run). Run it again without --dry-run to apply."
    )
    return "\n".join(lines)


LANG = Arg("lang", Choice(values=TRANSLATED), positional=True, required=True, metavar="LANG")

COMMANDS = (
    Command(
        "translations.export",
        "Export a language's catalogue (.po) with this node's own translations and the glossary.",
        args=(
            LANG,
            Arg(
                "out",
                FilePath(),
                metavar="FILE",
                help="write it to FILE (default: print it)",
                outside=True,
                example="/nonexistent/alertnode-fr.po",
            ),
        ),
        handler=_export,
        show=_show_export,
        output=("lang", "out", "bytes", "po", "total", "translated", "overrides"),
    ),
    Command(
        "translations.import",
        "Check a translated catalogue (.po), show what it changes and apply it at once.",
        args=(
            LANG,
            Arg(
                "file",
                FilePath(),
                positional=True,
                required=True,
                metavar="FILE",
                outside=True,
                example="/nonexistent/alertnode-fr.po",
            ),
            Arg("dry_run", Bool(), default=False, help="check and preview only; change nothing"),
        ),
        handler=_import,
        show=_show_import,
        output=(
            "lang",
            "entries",
            "translated",
            "changed",
            "unchanged",
            "unknown",
            "fuzzy",
            "refused",
            "changes",
            "refusals",
            "applied",
        ),
    ),
)
