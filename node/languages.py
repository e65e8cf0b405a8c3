"""The languages the web app speaks: codes, native names and writing direction.

Rule: this is the one list of languages; it imports nothing, so the settings table
(``node/settings.py``) and the web app (``node/web/i18n.py``) both read it without a
cycle. A code is the catalogue's directory name under ``node/locale`` (babel's
``zh_Hans``); ``html_lang`` gives the BCP 47 tag pages carry (``zh-Hans``). English is
the source language and always offered, whatever a node chooses.
"""

from __future__ import annotations

DEFAULT_LANG = "en"
# Native names, so a reader finds their own language whatever the page is in.
LANGUAGES: dict[str, str] = {
    "en": "English",
    "fr": "Français",
    "es": "Español",
    "pt": "Português",
    "ro": "Română",
    "ru": "Русский",
    "bg": "Български",
    "hu": "Magyar",
    "zh_Hans": "简体中文",
    "uk": "Українська",
    "ar": "العربية",
}
RTL_LANGUAGES = frozenset({"ar"})
# Accept-Language tags (lower case) that name Simplified Chinese. Other Chinese tags
# (zh-TW, zh-HK, zh-Hant) ask for Traditional Chinese, which is not offered: they fall
# through to the reader's next choice.
SIMPLIFIED_CHINESE_TAGS = frozenset({"zh", "zh-cn", "zh-sg", "zh-my"})


def html_lang(code: str) -> str:
    """The BCP 47 tag for ``lang=""`` (``zh_Hans`` -> ``zh-Hans``)."""
    return code.replace("_", "-")


def direction(code: str) -> str:
    """``rtl`` for a right-to-left language, else ``ltr``."""
    return "rtl" if code in RTL_LANGUAGES else "ltr"


def code_for_tag(tag: str) -> str | None:
    """The language code an Accept-Language tag asks for, or None if none is known."""
    tag = tag.strip().lower().replace("_", "-")
    primary = tag.split("-")[0]
    if primary == "zh":
        simplified = tag in SIMPLIFIED_CHINESE_TAGS or tag.startswith("zh-hans")
        return "zh_Hans" if simplified else None
    return primary if primary in LANGUAGES else None
