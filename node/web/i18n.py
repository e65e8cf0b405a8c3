"""Languages: gettext catalogues, the reader's choice, and the words for closed lists.

Rule: every word a member reads comes from a catalogue in ``node/locale`` (English is
the source language and the fallback); the structured parts of an alert (categories,
danger, status) are shown through the labels here, so an alert written in one
language shows them in the reader's. Translated text is escaped before anything is
substituted into it, and substituted values are escaped too.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from babel import dates as babel_dates
from babel.support import NullTranslations, Translations
from markupsafe import Markup, escape

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"
DEFAULT_LANG = "en"
# Native names, so a reader finds their own language whatever the page is in.
LANGUAGES: dict[str, str] = {
    "en": "English",
    "fr": "Français",
    "es": "Español",
    "pt": "Português",
    "ro": "Română",
    "ru": "Русский",
}
MAX_ACCEPT_LANGUAGE_ITEMS = 20


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


CATEGORY_LABELS: dict[str, str] = {
    "violence": N_("Violence"),
    "sexual-assault": N_("Sexual assault"),
    "robbery": N_("Robbery"),
    "non-payment": N_("Non-payment or fraud"),
    "condom-refusal": N_("Condom refusal or stealthing"),
    "recording": N_("Recording without consent"),
    "blackmail": N_("Blackmail or threats of outing"),
    "stalking": N_("Stalking or harassment"),
    "police-impersonation": N_("Impersonating police"),
    "time-waster": N_("Time-waster or nuisance"),
    "other": N_("Other"),
}
DANGER_LABELS: dict[int, str] = {
    0: N_("none"),
    1: N_("nuisance"),
    2: N_("risky"),
    3: N_("dangerous"),
}
STATUS_LABELS: dict[str, str] = {
    "new": N_("waiting for review"),
    "reviewed": N_("reviewed"),
    "published": N_("published as an alert"),
    "declined": N_("not published"),
    "withdrawn": N_("withdrawn"),
}
INDICATOR_LABELS: dict[str, str] = {
    "phone": N_("Phone number"),
    "email": N_("E-mail address"),
    "handle": N_("Handle (platform:name)"),
    "plate": N_("Number plate"),
    "other": N_("Other identifier"),
}
SHARE_LABELS: dict[str, str] = {
    "no": N_("Do not share it as an alert"),
    "node": N_("Share it only with members of this organisation"),
    "peers": N_("Share it with organisations we work with directly"),
    "network": N_("Share it as widely as our organisation allows"),
}


@cache
def translations(lang: str) -> NullTranslations:
    """The catalogue for ``lang`` (English, the source, when there is none)."""
    if lang == DEFAULT_LANG or lang not in LANGUAGES:
        return NullTranslations()
    return Translations.load(str(LOCALE_DIR), [lang], DOMAIN)


def negotiate(accept_language: str) -> str:
    """The best supported language for an Accept-Language header (English if none)."""
    choices: list[tuple[float, int, str]] = []
    for index, item in enumerate(accept_language.split(",")[:MAX_ACCEPT_LANGUAGE_ITEMS]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().split("-")[0].lower()
        if primary in LANGUAGES and quality > 0:
            choices.append((-quality, index, primary))
    return min(choices)[2] if choices else DEFAULT_LANG


# Days written per language, kept: a page of 100 alerts names a few dozen days, and
# babel's formatting was about a sixth of the alerts page's cost.
MAX_CACHED_DATES = 4096


@lru_cache(maxsize=MAX_CACHED_DATES)
def _medium_date(day: datetime.date, lang: str) -> str:
    return str(babel_dates.format_date(day, format="medium", locale=lang))


class Translator:
    """One language's words, for Python code (plain str) and templates (Markup)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANG
        self._t = translations(self.lang)

    def gettext(self, message: str, **values: Any) -> str:
        text = self._t.gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        text = self._t.ngettext(singular, plural, n)
        return text % {"num": n, **values}

    # Template callables: the translation is escaped, then values are escaped into it.
    def markup(self, message: str, **values: Any) -> Markup:
        text = escape(self._t.gettext(message))
        return text % values if values else text

    def nmarkup(self, singular: str, plural: str, n: int, **values: Any) -> Markup:
        return escape(self._t.ngettext(singular, plural, n)) % {"num": n, **values}

    def category(self, code: str) -> str:
        return self.gettext(CATEGORY_LABELS.get(code, code))

    def danger(self, level: int) -> str:
        return self.gettext(DANGER_LABELS.get(level, str(level)))

    def status(self, code: str) -> str:
        return self.gettext(STATUS_LABELS.get(code, code))

    def indicator(self, kind: str) -> str:
        return self.gettext(INDICATOR_LABELS.get(kind, kind))

    def date(self, value: str | int | None) -> str:
        """A day (YYYY-MM-DD or a Unix time) written the reader's way."""
        if value is None or value == "":
            return ""
        if isinstance(value, int):
            day = datetime.datetime.fromtimestamp(value, datetime.UTC).date()
        else:
            try:
                day = datetime.date.fromisoformat(value)
            except ValueError:
                return value
        return _medium_date(day, self.lang)

    def template_globals(self) -> dict[str, Callable[..., Any]]:
        return {
            "_": self.markup,
            "gettext": self.markup,
            "ngettext": self.nmarkup,
            "category": self.category,
            "danger": self.danger,
            "status": self.status,
            "indicator": self.indicator,
            "fmt_date": self.date,
        }
