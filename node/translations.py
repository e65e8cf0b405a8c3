"""Catalogue export and import for an organisation's own translators.

Rule: an import changes nothing until it has been checked entry by entry against the
shipped template (node/locale/messages.pot): an entry the template does not know is
ignored, and one whose placeholders differ from its msgid's, or that adds an HTML tag
its msgid lacks, is refused (the whole entry, never a repair). What passes becomes the
node's overrides (node/overrides.py), laid over the shipped catalogue at runtime, so
it applies to the next page without a restart. An export is the shipped catalogue
with the node's overrides applied, and the language's glossary in its header comments.

Glossaries: ``node/glossary/en.json`` lists the agreed terms (``term``, ``avoid``,
``note``); ``node/glossary/<lang>.json`` may give each term's agreed translation
(``{"terms": {"sex worker": "travailleuse du sexe"}}``). docs/web.md describes both.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po, write_po

from .errors import UsageError
from .languages import DEFAULT_LANG, LANGUAGES
from .overrides import Overrides, PluralKey

NODE_DIR = Path(__file__).resolve().parent
LOCALE_DIR = NODE_DIR / "locale"
GLOSSARY_DIR = NODE_DIR / "glossary"
POT = LOCALE_DIR / "messages.pot"
MAX_IMPORT_BYTES = 2 * 1024 * 1024
MAX_ENTRY_CHARS = 8000
MAX_PREVIEW_CHANGES = 200
# %(name)s style placeholders, the only kind the code fills in; %% is a literal percent.
_PLACEHOLDER_RE = re.compile(r"%\([A-Za-z_][A-Za-z0-9_]*\)[-#0 +]*\d*(?:\.\d+)?[sdifr]|%%")
_TAG_RE = re.compile(r"<\s*/?\s*([A-Za-z][A-Za-z0-9-]*)")


def _key(message: Message) -> str:
    return message.id if isinstance(message.id, str) else str(message.id[0])


def check_lang(lang: str) -> str:
    """``lang`` if this node has it and it is translated (not English). Raises UsageError."""
    if lang not in LANGUAGES or lang == DEFAULT_LANG:
        others = " ".join(code for code in LANGUAGES if code != DEFAULT_LANG)
        raise UsageError(f"translations are for one of: {others}")
    return lang


@cache
def template() -> Catalog:
    """The shipped template: every msgid in the code."""
    with POT.open("rb") as f:
        return read_po(f)


def shipped(lang: str) -> Catalog:
    """The shipped catalogue of ``lang``, or the template (all untranslated) if it has none."""
    po = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if po.is_file():
        with po.open("rb") as f:
            return read_po(f, locale=lang)
    catalog = Catalog(locale=lang, project="alertnode", fuzzy=False)
    for message in template():
        if message.id:
            catalog[message.id] = Message(
                message.id, "" if isinstance(message.id, str) else ("",) * catalog.num_plurals
            )
    return catalog


def glossary(lang: str) -> list[dict[str, Any]]:
    """The agreed terms, with ``translation`` from the language's own glossary ('' if none)."""
    with (GLOSSARY_DIR / "en.json").open(encoding="utf-8") as f:
        terms: list[dict[str, Any]] = json.load(f)["terms"]
    own: dict[str, str] = {}
    path = GLOSSARY_DIR / f"{lang}.json"
    if path.is_file():
        with path.open(encoding="utf-8") as f:
            found = json.load(f).get("terms", {})
        own = {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}
    return [{**t, "translation": own.get(t["term"], "")} for t in terms]


def _glossary_comment(lang: str) -> str:
    lines = [
        f"alertnode catalogue for {LANGUAGES[lang]} ({lang}), with this node's own translations.",
        "Translate every msgstr; keep each %(name)s placeholder exactly; add no HTML.",
        "Import it back with: alertnode translations import " + lang + " FILE",
        "",
        "Glossary: the community's own words (English term = agreed translation; avoid):",
    ]
    for t in glossary(lang):
        avoid = ", ".join(t.get("avoid", []))
        lines.append(f"  {t['term']} = {t['translation'] or '(to agree)'}; avoid: {avoid}")
        if t.get("note"):
            lines.append(f"      {t['note']}")
    # Comment lines of the .po header, which translation tools show to the translator.
    return "\n".join(f"# {line}" if line else "#" for line in lines)


def export_po(lang: str, overrides: Overrides) -> bytes:
    """The catalogue of ``lang`` as a .po file, with the node's overrides applied."""
    check_lang(lang)
    catalog = shipped(lang)
    entries = overrides.messages(lang)
    for message in catalog:
        if not message.id:
            continue
        key = _key(message)
        if isinstance(message.string, tuple) or not isinstance(message.id, str):
            forms = list(message.string) if isinstance(message.string, tuple) else []
            forms += [""] * (catalog.num_plurals - len(forms))
            for i in range(len(forms)):
                found = entries.get((key, i))
                if found is not None:
                    forms[i] = found
            message.string = tuple(forms)
        else:
            found = entries.get(key)
            if found is not None:
                message.string = found
    catalog.header_comment = _glossary_comment(lang)
    out = io.BytesIO()
    write_po(out, catalog, width=0, omit_header=False, sort_output=True)
    return out.getvalue()


@dataclass
class Preview:
    """What an import would do (``apply`` does it)."""

    lang: str
    entries: int = 0  # entries in the file
    translated: int = 0  # with a translation
    unchanged: int = 0
    unknown: int = 0  # msgids this version does not have (ignored)
    fuzzy: int = 0  # marked fuzzy (ignored)
    changed: list[dict[str, str]] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)
    result: dict[str | PluralKey, str] = field(default_factory=dict)  # the new overrides

    def summary(self) -> dict[str, Any]:
        return {
            "lang": self.lang,
            "entries": self.entries,
            "translated": self.translated,
            "changed": len(self.changed),
            "unchanged": self.unchanged,
            "unknown": self.unknown,
            "fuzzy": self.fuzzy,
            "refused": len(self.refused),
            "changes": self.changed[:MAX_PREVIEW_CHANGES],
            "refusals": self.refused[:MAX_PREVIEW_CHANGES],
        }


def _strings(message: Message) -> tuple[str, ...]:
    """A message's translation(s) as text ('' where there is none)."""
    value = message.string
    items = value if isinstance(value, (tuple, list)) else (value,)
    return tuple(item if isinstance(item, str) else "" for item in items)


def _placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER_RE.findall(text))


def _stray_percent(text: str) -> bool:
    return "%" in _PLACEHOLDER_RE.sub("", text)


def _tags(text: str) -> set[str]:
    return {t.lower() for t in _TAG_RE.findall(text)}


def refusal(msgid: str, plural: str | None, msgstr: str) -> str | None:
    """Why ``msgstr`` may not stand for ``msgid`` (None if it may)."""
    if len(msgstr) > MAX_ENTRY_CHARS:
        return f"longer than {MAX_ENTRY_CHARS} characters"
    allowed = _placeholders(msgid) | (_placeholders(plural) if plural else set())
    used = _placeholders(msgstr)
    if plural is None and used != allowed:
        return "its placeholders differ from the original's"
    if plural is not None and not used <= allowed:
        return "it uses a placeholder the original does not have"
    if _stray_percent(msgstr) and (allowed or "%" not in msgid):
        return "it has a % sign that is not a placeholder (write %% for a percent sign)"
    added = _tags(msgstr) - _tags(msgid) - (_tags(plural) if plural else set())
    if added:
        return "it adds HTML the original does not have: " + ", ".join(sorted(added))
    if any(ord(c) < 32 and c not in "\n\t" for c in msgstr):
        return "it holds control characters"
    return None


def check_import(lang: str, data: bytes, overrides: Overrides) -> Preview:
    """Check a translator's .po for ``lang``. Raises UsageError if it cannot be read."""
    check_lang(lang)
    if len(data) > MAX_IMPORT_BYTES:
        raise UsageError(f"that file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MiB")
    try:
        incoming = read_po(io.BytesIO(data), locale=lang, abort_invalid=True)
    except Exception as exc:  # babel raises several kinds for a malformed file
        raise UsageError(
            f"that file is not a readable .po catalogue ({type(exc).__name__})"
        ) from None
    base = shipped(lang)
    known = {_key(m): m for m in template() if m.id}
    current = overrides.messages(lang)
    preview = Preview(lang)
    result: dict[str | PluralKey, str] = dict(current)
    for message in incoming:
        if not message.id:
            continue
        preview.entries += 1
        key = _key(message)
        if key not in known:
            preview.unknown += 1
            continue
        if message.fuzzy:
            preview.fuzzy += 1
            continue
        plural = None if isinstance(known[key].id, str) else str(known[key].id[1])
        strings = _strings(message)
        if not any(strings):
            continue
        preview.translated += 1
        shipped_msg = base.get(key)
        shipped_strings = _strings(shipped_msg) if shipped_msg is not None else ()
        reasons = [refusal(key, plural, text) for text in strings if text]
        why = next((r for r in reasons if r), None)
        if why is not None:
            preview.refused.append({"msgid": key, "reason": why})
            continue
        changed = False
        for i, text in enumerate(strings):
            if not text:
                continue
            entry: str | PluralKey = key if plural is None else (key, i)
            was = current.get(entry) or (shipped_strings[i] if i < len(shipped_strings) else "")
            if text != was:
                changed = True
                preview.changed.append({"msgid": key, "before": was, "after": text})
            if i < len(shipped_strings) and text == shipped_strings[i]:
                result.pop(entry, None)  # the shipped words again: no override needed
            else:
                result[entry] = text
        if not changed:
            preview.unchanged += 1
    preview.result = result
    return preview


def apply(preview: Preview, overrides: Overrides) -> None:
    """Make the checked import the node's overrides for its language."""
    overrides.replace(preview.lang, preview.result)


def reset(lang: str, overrides: Overrides) -> None:
    """Drop the node's own translations of ``lang``: the shipped catalogue again."""
    overrides.replace(check_lang(lang), {})


def counts(lang: str, overrides: Overrides) -> dict[str, int]:
    """How complete the shipped catalogue is, and how many entries the node overrides."""
    total = translated = 0
    for message in shipped(lang) if lang != DEFAULT_LANG else ():
        if not message.id:
            continue
        total += 1
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        translated += bool(all(strings)) and not message.fuzzy
    return {"total": total, "translated": translated, "overrides": len(overrides.messages(lang))}
