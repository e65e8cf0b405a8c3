"""The node's own translations: entries its translators imported, laid over the
shipped catalogues at runtime.

Rule: overrides live in ``DATA/translations/<lang>.json``, one file a language,
written atomically; the web app reads them through one ``Overrides`` object, so an
import applies to the next page without a restart. They are plain files, not rows
sealed in the store: they hold the interface's words and nothing about members,
reports or alerts, and the locked page and the log-in page (shown before anything
can be decrypted) must speak the organisation's words too.

File form: ``{"lang": "fr", "messages": [{"msgid": ..., "msgstr": ...} |
{"msgid": ..., "index": N, "msgstr": ...}]}`` (``index``: the plural form).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from .errors import UsageError
from .files import write_private
from .languages import LANGUAGES

OVERRIDES_DIR = "translations"
MAX_OVERRIDE_FILE_BYTES = 4 * 1024 * 1024
# A plural entry: (msgid, plural form index).
PluralKey = tuple[str, int]
Entries = Mapping[str | PluralKey, str]


class Overrides:
    """Per-language override entries, cached in memory after the first read."""

    def __init__(self, data_dir: Path | None) -> None:
        """``data_dir`` None keeps the entries in memory only (tests, a fake host)."""
        self._dir = data_dir / OVERRIDES_DIR if data_dir is not None else None
        self._cache: dict[str, dict[str | PluralKey, str]] = {}

    def _path(self, lang: str) -> Path | None:
        if lang not in LANGUAGES:
            raise UsageError(f"there is no language {lang[:20]!r} on this node")
        return self._dir / f"{lang}.json" if self._dir is not None else None

    def messages(self, lang: str) -> Entries:
        """The entries for ``lang`` (empty when there are none or the file is unreadable)."""
        if lang not in LANGUAGES:
            return {}
        found = self._cache.get(lang)
        if found is None:
            found = self._cache[lang] = self._read(lang)
        return found

    def _read(self, lang: str) -> dict[str | PluralKey, str]:
        path = self._path(lang)
        if path is None:
            return {}
        try:
            if path.stat().st_size > MAX_OVERRIDE_FILE_BYTES:
                return {}
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        entries: dict[str | PluralKey, str] = {}
        for item in doc.get("messages", []) if isinstance(doc, dict) else []:
            if not isinstance(item, dict):
                continue
            msgid, msgstr, index = item.get("msgid"), item.get("msgstr"), item.get("index")
            if not isinstance(msgid, str) or not isinstance(msgstr, str) or not msgstr:
                continue
            if isinstance(index, int):
                entries[(msgid, index)] = msgstr
            else:
                entries[msgid] = msgstr
        return entries

    def replace(self, lang: str, entries: Entries) -> None:
        """Make ``entries`` the whole set of overrides for ``lang`` (empty removes them)."""
        path = self._path(lang)
        items: list[dict[str, object]] = []
        for key, msgstr in sorted(entries.items(), key=lambda kv: str(kv[0])):
            if isinstance(key, tuple):
                items.append({"msgid": key[0], "index": key[1], "msgstr": msgstr})
            else:
                items.append({"msgid": key, "msgstr": msgstr})
        if path is None or self._dir is None:
            pass
        elif items:
            self._dir.mkdir(mode=0o700, exist_ok=True)
            data = json.dumps({"lang": lang, "messages": items}, ensure_ascii=False, indent=1)
            write_private(path, data.encode("utf-8"))
        else:
            path.unlink(missing_ok=True)
        self._cache[lang] = dict(entries)

    def count(self, lang: str) -> int:
        return len(self.messages(lang))
