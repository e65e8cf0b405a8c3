"""Languages: gettext catalogues, the reader's choice, and the words for closed lists.

Rule: every word a member reads comes from a catalogue in ``node/locale`` (English is
the source language and the fallback); the structured parts of an alert (categories,
danger, status) are shown through the labels here, so an alert written in one
language shows them in the reader's. Translated text is escaped before anything is
substituted into it, and substituted values are escaped too.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from babel import dates as babel_dates
from babel.messages.plurals import get_plural
from babel.support import NullTranslations, Translations
from markupsafe import Markup, escape

from ..languages import DEFAULT_LANG as DEFAULT_LANG
from ..languages import LANGUAGES as LANGUAGES
from ..languages import code_for_tag, direction, html_lang
from ..overrides import Overrides, PluralKey

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"
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
    # What became of the alert a published report became (node/web/members.py).
    "retracted": N_("published as an alert, then retracted: members no longer see it"),
    "superseded": N_("published as an alert, then replaced by a corrected alert"),
    "expired": N_("published as an alert, which has now expired"),
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

# A role in a word (lists, the audit log, questions); ROLE_LABELS explain it where one
# is chosen.
ROLE_NAMES: dict[str, str] = {
    "member": N_("member"),
    "caseworker": N_("caseworker"),
    "admin": N_("admin"),
}
ROLE_LABELS: dict[str, str] = {
    "member": N_("member"),
    "caseworker": N_("caseworker (reviews reports, publishes and retracts alerts)"),
    "admin": N_("admin (also runs the node: members, partners, settings)"),
}
RETRACT_REASON_LABELS: dict[str, str] = {
    "mistaken": N_("It was published by mistake or is wrong"),
    "resolved": N_("The danger has passed"),
    "duplicate": N_("Another alert already says this"),
    "reporter-request": N_("The member who reported it asked for it to be withdrawn"),
    "superseded": N_("A corrected alert replaces it"),
    "other": N_("Another reason"),
}
ACCEPT_LABELS: dict[str, str] = {
    "none": N_("Nothing: we receive no alerts from them"),
    "direct": N_("Their own alerts only"),
    "relay": N_("Their own alerts and the alerts they pass on from organisations they trust"),
}


@cache
def translations(lang: str) -> NullTranslations:
    """The shipped catalogue for ``lang``; English (the source) when there is none, so a
    language whose catalogue has not landed yet shows English rather than failing."""
    if lang == DEFAULT_LANG or lang not in LANGUAGES:
        return NullTranslations()
    mo = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if not mo.is_file():
        return NullTranslations()
    with mo.open("rb") as f:
        return Translations(f, DOMAIN)


@cache
def plural_index(lang: str) -> Callable[[int], int]:
    """Which plural form ``n`` takes in ``lang`` (babel's CLDR rules, as gettext's
    Plural-Forms would say)."""
    import gettext

    return gettext.c2py(get_plural(lang).plural_expr)


def negotiate(accept_language: str, offered: Iterable[str] | None = None) -> str:
    """The best language for an Accept-Language header among ``offered`` (every
    language when None); English if none fits."""
    allowed = set(LANGUAGES if offered is None else offered) | {DEFAULT_LANG}
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
        code = code_for_tag(tag)
        if code is not None and code in allowed and quality > 0:
            choices.append((-quality, index, code))
    return min(choices)[2] if choices else DEFAULT_LANG


# Days written per language, kept: a page of 100 alerts names a few dozen days, and
# babel's formatting was about a sixth of the alerts page's cost.
MAX_CACHED_DATES = 4096


@lru_cache(maxsize=MAX_CACHED_DATES)
def _medium_date(day: datetime.date, lang: str) -> str:
    return str(babel_dates.format_date(day, format="medium", locale=lang))


class Translator:
    """One language's words, for Python code (plain str) and templates (Markup)."""

    def __init__(self, lang: str, overrides: Overrides | None = None) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANG
        self.html_lang = html_lang(self.lang)
        self.dir = direction(self.lang)
        self._t = translations(self.lang)
        # The node's own translators' words (``alertnode translations import``), over
        # the shipped catalogue; read for each request, so an import applies without a
        # restart.
        self._over = overrides.messages(self.lang) if overrides else {}
        # Plural forms are numbered as the catalogue's own Plural-Forms header says
        # (babel's rule for a language whose catalogue has not landed yet).
        shipped_plural = getattr(self._t, "plural", None)
        self._plural = shipped_plural if callable(shipped_plural) else plural_index(self.lang)

    def _get(self, message: str) -> str:
        found = self._over.get(message)
        return found if isinstance(found, str) else self._t.gettext(message)

    def _nget(self, singular: str, plural: str, n: int) -> str:
        if self._over:
            key: PluralKey = (singular, int(self._plural(n)))
            found = self._over.get(key)
            if isinstance(found, str):
                return found
        return self._t.ngettext(singular, plural, n)

    def gettext(self, message: str, **values: Any) -> str:
        text = self._get(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        text = self._nget(singular, plural, n)
        return text % {"num": n, **values}

    # Template callables: the translation is escaped, then values are escaped into it.
    def markup(self, message: str, **values: Any) -> Markup:
        text = escape(self._get(message))
        return text % values if values else text

    def nmarkup(self, singular: str, plural: str, n: int, **values: Any) -> Markup:
        return escape(self._nget(singular, plural, n)) % {"num": n, **values}

    def category(self, code: str) -> str:
        return self.gettext(CATEGORY_LABELS.get(code, code))

    def danger(self, level: int) -> str:
        return self.gettext(DANGER_LABELS.get(level, str(level)))

    def status(self, code: str) -> str:
        return self.gettext(STATUS_LABELS.get(code, code))

    def indicator(self, kind: str) -> str:
        return self.gettext(INDICATOR_LABELS.get(kind, kind))

    def role(self, code: str) -> str:
        return self.gettext(ROLE_LABELS.get(code, code))

    def role_name(self, code: str) -> str:
        return self.gettext(ROLE_NAMES.get(code, code))

    def reason(self, code: str) -> str:
        return self.gettext(RETRACT_REASON_LABELS.get(code, code))

    def accept(self, mode: str) -> str:
        return self.gettext(ACCEPT_LABELS.get(mode, mode))

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
            "role": self.role,
            "role_name": self.role_name,
            "reason": self.reason,
            "accept": self.accept,
            "fmt_date": self.date,
        }
