"""The kinds of value a setting takes (node/settings.py's table): each parses what an
admin typed, refusing it with a sentence in words that names the setting, shows a stored
value back, and describes what it accepts. Messages are marked for translation here and
translated where they are shown.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from .errors import UsageError
from .languages import DEFAULT_LANG, LANGUAGES

Translate = Callable[[str], str]

_REGION_RE = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,6}){0,2}$")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
MAX_REGIONS = 50
MAX_SETTING_CHARS = 1000
MAX_URL_CHARS = 500
# The example a refused web address is shown (the quick exit setting's default).
QUICK_EXIT_DEFAULT = "https://www.google.com/search?q=weather"


def N_(message: str) -> str:
    """Mark a string for extraction (node/locale); it is translated where it is shown."""
    return message


def _english(message: str) -> str:
    return message


class Kind(Protocol):
    """What values a setting takes: how to read one, show one and describe them."""

    def parse(self, value: object, label: str, t: Translate) -> Any:
        """The value to store. Raises UsageError naming the setting by ``label``."""
        ...

    def show(self, value: Any) -> str:
        """The value as an admin types it into a form field."""
        ...

    def describe(self, t: Translate) -> str:
        """One sentence on what values are allowed."""
        ...


@dataclass(frozen=True, slots=True)
class WholeNumber:
    minimum: int
    maximum: int

    def parse(self, value: object, label: str, t: Translate) -> int:
        try:
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                raise ValueError
            number = int(value.strip()) if isinstance(value, str) else value
        except ValueError:
            raise UsageError(
                t(N_("%(label)s: write a whole number from %(lo)d to %(hi)d, in figures."))
                % {"label": label, "lo": self.minimum, "hi": self.maximum}
            ) from None
        if not self.minimum <= number <= self.maximum:
            raise UsageError(
                t(N_("%(label)s: choose a number from %(lo)d to %(hi)d."))
                % {"label": label, "lo": self.minimum, "hi": self.maximum}
            )
        return number

    def show(self, value: Any) -> str:
        return str(value)

    def describe(self, t: Translate) -> str:
        return t(N_("A whole number from %(lo)d to %(hi)d.")) % {
            "lo": self.minimum,
            "hi": self.maximum,
        }


@dataclass(frozen=True, slots=True)
class CountryCode:
    """A two-letter ISO 3166-1 country code, or nothing."""

    def parse(self, value: object, label: str, t: Translate) -> str:
        code = str(value).strip().upper()
        if code and not _COUNTRY_RE.match(code):
            raise UsageError(
                t(N_("%(label)s: write a two-letter country code like GB or FR."))
                % {"label": label}
            )
        return code

    def show(self, value: Any) -> str:
        return str(value)

    def describe(self, t: Translate) -> str:
        return t(N_("A two-letter country code like GB or FR, or nothing."))


@dataclass(frozen=True, slots=True)
class RegionList:
    """Region codes (ISO 3166-2 style), stored sorted and without repeats."""

    max_items: int = MAX_REGIONS

    def parse(self, value: object, label: str, t: Translate) -> list[str]:
        items = value.replace(",", " ").split() if isinstance(value, str) else value
        if not isinstance(items, list) or len(items) > self.max_items:
            raise UsageError(
                t(N_("%(label)s: list at most %(n)d region codes."))
                % {"label": label, "n": self.max_items}
            )
        codes = [str(i).strip().upper() for i in items]
        for code in codes:
            if not _REGION_RE.match(code):
                raise UsageError(
                    t(N_("%(label)s: %(code)s is not a region code like GB, GB-LND or FR-75."))
                    % {"label": label, "code": code[:40]}
                )
        return sorted(set(codes))

    def show(self, value: Any) -> str:
        return " ".join(value) if isinstance(value, list) else str(value)

    def describe(self, t: Translate) -> str:
        return t(N_("Region codes like GB-LND or FR-75, separated by spaces, at most %(n)d.")) % {
            "n": self.max_items
        }


@dataclass(frozen=True, slots=True)
class HttpsUrl:
    """An https:// address of another site: a host, no user name or password, no
    spaces or control characters."""

    max_chars: int = MAX_URL_CHARS

    def parse(self, value: object, label: str, t: Translate) -> str:
        url = str(value).strip()
        bad = (
            len(url) > self.max_chars
            or any(c.isspace() or unicodedata.category(c)[0] == "C" for c in url)
            or not url.lower().startswith("https://")
        )
        try:
            parts = urlsplit(url)
            bad = bad or not parts.hostname or "@" in parts.netloc or "." not in parts.hostname
            parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
        except ValueError:
            bad = True
        if bad:
            raise UsageError(
                t(N_("%(label)s: write a web address starting with https://, like %(example)s."))
                % {"label": label, "example": QUICK_EXIT_DEFAULT}
            )
        return url

    def show(self, value: Any) -> str:
        return str(value)

    def describe(self, t: Translate) -> str:
        return t(N_("A web address starting with https://, at most %(n)d characters.")) % {
            "n": self.max_chars
        }


@dataclass(frozen=True, slots=True)
class Choice:
    """One of a few fixed words; ``labels`` says each in words (marked for translation)."""

    options: tuple[str, ...]
    labels: tuple[str, ...]

    def parse(self, value: object, label: str, t: Translate) -> str:
        word = str(value).strip().lower()
        if word not in self.options:
            raise UsageError(
                t(N_("%(label)s: choose one of the offered answers.")) % {"label": label}
            )
        return word

    def show(self, value: Any) -> str:
        return str(value)

    def describe(self, t: Translate) -> str:
        return "; ".join(f"{o}: {t(w)}" for o, w in zip(self.options, self.labels, strict=True))


@dataclass(frozen=True, slots=True)
class YesNo:
    """On or off. An admin types true or false (also yes/no, on/off); stored as a
    JSON boolean."""

    def parse(self, value: object, label: str, t: Translate) -> bool:
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in ("true", "yes", "on"):
            return True
        if word in ("false", "no", "off"):
            return False
        raise UsageError(t(N_("%(label)s must be true or false.")) % {"label": label})

    def show(self, value: Any) -> str:
        return "true" if value else "false"

    def describe(self, t: Translate) -> str:
        return t(N_("true (on) or false (off)."))


@dataclass(frozen=True, slots=True)
class LanguageList:
    """Language codes this node offers (node/languages.py), English always among them."""

    def parse(self, value: object, label: str, t: Translate) -> list[str]:
        items = value.replace(",", " ").split() if isinstance(value, str) else value
        if not isinstance(items, list) or len(items) > len(LANGUAGES):
            raise UsageError(
                t(N_("%(label)s: list the language codes to offer, like en fr ar."))
                % {"label": label}
            )
        by_lower = {code.lower(): code for code in LANGUAGES}
        codes = {DEFAULT_LANG}
        for item in items:
            code = by_lower.get(str(item).strip().lower().replace("-", "_"))
            if code is None:
                raise UsageError(
                    t(N_("%(label)s: %(code)s is not one of this node's languages (%(all)s)."))
                    % {"label": label, "code": str(item)[:20], "all": " ".join(LANGUAGES)}
                )
            codes.add(code)
        return [code for code in LANGUAGES if code in codes]

    def show(self, value: Any) -> str:
        return " ".join(value) if isinstance(value, list) else str(value)

    def describe(self, t: Translate) -> str:
        return t(N_("Language codes separated by spaces, from: %(all)s.")) % {
            "all": " ".join(LANGUAGES)
        }
