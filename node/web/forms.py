"""Reading submitted forms: every field checked, every problem a sentence for the reader.

Rule: a handler reads its form only through ``Form``; each reader returns a clean
value or records a message for that field (in the reader's language) and returns a
harmless default; a refusal of the whole form (a rate limit) is a page notice, never a
field's error. A handler stores nothing unless ``form.ok``. Values are never
echoed back into a page except through the templates' autoescaping, and passphrases
are never echoed at all.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

import phonenumbers
from multidict import MultiDictProxy

from protocol.errors import ProtocolError
from protocol.fields import check_region, check_text
from protocol.indicators import normalise

from .i18n import N_, Translator

MAX_LINE_CHARS = 200
MAX_INDICATOR_CHARS = 256
INDICATOR_ERRORS = {
    "phone": N_(
        "That does not look like a phone number. "
        "Write it with its country code, like +44 7700 900123."
    ),
    "email": N_("That is not an e-mail address like name@example.org."),
    "handle": N_("Write a handle as platform:name, like instagram:somebody."),
    "plate": N_("A number plate has 2 to 12 letters and digits."),
    "other": N_("An identifier has 3 to 128 characters."),
}
# A national number (no "+" or "00" in front) on a node or report whose country is not
# known, or whose digits do not fit that country: say what to add, with an example.
NO_COUNTRY_CODE = N_("Add the country code at the start of the number, like %(code)s: %(example)s.")
NOT_A_LOCAL_NUMBER = N_(
    "Check the number, or add its country code at the start, like %(code)s: %(example)s."
)
# Fewer digits than this is not taken for a number at all ("call me").
MIN_NATIONAL_DIGITS = 5
# The example when neither the report nor the node names a country.
DEFAULT_PHONE_EXAMPLE = "+44 7700 900123"


def phone_country(region: str, fallback: str) -> str:
    """The country of a region code (``GB-LND`` gives ``GB``), else ``fallback`` (the
    node's phone_region): the country a number written without its code is read in."""
    country = region[:2].upper()
    return country if len(country) == 2 and country.isalpha() else fallback.upper()


def phone_example(country: str) -> tuple[str, str]:
    """(``+44``, ``+44 7400 123456``): the calling code and an example mobile number of
    ``country`` written internationally; the UK's when the country is unknown."""
    example = phonenumbers.example_number_for_type(
        country or None, phonenumbers.PhoneNumberType.MOBILE
    )
    if not country or example is None:
        return DEFAULT_PHONE_EXAMPLE[:3], DEFAULT_PHONE_EXAMPLE
    text = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return f"+{example.country_code}", text


def indicator_error(t: Translator, kind: str, value: str, phone_region: str) -> str:
    """The sentence for an identifier ``normalise`` refused: for a phone number written
    without its country code, what to add (an example from ``phone_region``)."""
    digits = sum(ch.isdigit() for ch in value)
    national = not value.strip().startswith(("+", "00", "\uff0b"))
    if kind == "phone" and national and digits >= MIN_NATIONAL_DIGITS:
        code, example = phone_example(phone_region)
        message = NOT_A_LOCAL_NUMBER if phone_region else NO_COUNTRY_CODE
        return t.gettext(message, code=code, example=example)
    return t.gettext(INDICATOR_ERRORS[kind])


class Form:
    def __init__(self, data: MultiDictProxy[Any] | Mapping[str, Any], t: Translator) -> None:
        self._data = data
        self._t = t
        self.errors: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        # A refusal of the whole form (a rate limit), shown as a page notice, not
        # against a field the reader cannot fix.
        self.notice = ""
        # Field labels, recorded by the template macros as they draw each field, so
        # the error summary names the field (context.render draws such a page twice).
        self.labels: dict[str, str] = {}

    @property
    def ok(self) -> bool:
        return not self.errors and not self.notice

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def refuse(self, message: str) -> None:
        """Refuse the whole form with ``message`` (too many attempts, and the like)."""
        self.notice = self.notice or message

    def _all(self, name: str) -> list[Any]:
        if isinstance(self._data, MultiDictProxy):
            return list(self._data.getall(name, []))
        value = self._data.get(name)
        if isinstance(value, list):
            return value
        return [] if value is None else [value]

    def _one(self, name: str) -> str | None:
        """The single text value of ``name`` ("" if absent); None after recording an error."""
        items = self._all(name)
        if len(items) > 1:
            self.error(name, self._t.gettext("This field was sent more than once."))
            return None
        if not items:
            return ""
        if not isinstance(items[0], str):
            self.error(name, self._t.gettext("This field takes text, not a file."))
            return None
        return items[0]

    def text(
        self,
        name: str,
        *,
        required: bool = True,
        max_chars: int = MAX_LINE_CHARS,
        multiline: bool = False,
        keep: bool = True,
    ) -> str:
        raw = self._one(name)
        if raw is None:
            return ""
        value = raw.replace("\r\n", "\n").strip() if multiline else " ".join(raw.split())
        if keep:
            self.values[name] = value
        if not value:
            if required:
                self.error(name, self._t.gettext("This is required."))
            return ""
        if len(value) > max_chars:
            self.error(
                name,
                self._t.gettext(
                    "This is too long: at most %(max)d characters, and it has %(n)d.",
                    max=max_chars,
                    n=len(value),
                ),
            )
            return ""
        try:
            check_text(name, value)
        except ProtocolError:
            self.error(name, self._t.gettext("This contains invisible control characters."))
            return ""
        return value

    def hidden(self, name: str) -> str | None:
        """A value the page's own markup or script wrote (a proof-of-work challenge):
        the text as sent, or None when it is absent, repeated or a file. Never kept
        for re-display and never an error here: its reader judges it."""
        items = self._all(name)
        if len(items) != 1 or not isinstance(items[0], str):
            return None
        return items[0]

    def secret(self, name: str, *, max_chars: int = 512) -> str:
        """A passphrase: taken as typed, never kept for re-display."""
        raw = self._one(name)
        if raw is None:
            return ""
        if not raw:
            self.error(name, self._t.gettext("This is required."))
        elif len(raw) > max_chars:
            self.error(
                name,
                self._t.gettext("This is too long: at most %(max)d characters.", max=max_chars),
            )
            return ""
        return raw

    def choice(self, name: str, choices: Iterable[str], *, required: bool = True) -> str:
        raw = self._one(name)
        if raw is None:
            return ""
        self.values[name] = raw
        if raw == "":
            if required:
                self.error(name, self._t.gettext("Choose one of the options."))
            return ""
        if raw not in set(choices):
            self.error(name, self._t.gettext("Choose one of the options shown."))
            return ""
        return raw

    def choices(
        self, name: str, choices: Iterable[str], *, minimum: int = 1, maximum: int = 32
    ) -> list[str]:
        items = self._all(name)
        allowed = set(choices)
        if any(not isinstance(i, str) or i not in allowed for i in items):
            self.error(name, self._t.gettext("Choose only from the options shown."))
            return []
        picked = list(dict.fromkeys(items))
        self.values[name] = picked
        if len(picked) < minimum:
            self.error(
                name,
                self._t.ngettext(
                    "Choose at least %(num)d option.", "Choose at least %(num)d options.", minimum
                ),
            )
            return []
        if len(picked) > maximum:
            self.error(
                name,
                self._t.ngettext(
                    "Choose at most %(num)d option.", "Choose at most %(num)d options.", maximum
                ),
            )
            return []
        return picked

    def integer(self, name: str, lo: int, hi: int, *, default: int | None = None) -> int | None:
        raw = self._one(name)
        if raw is None:
            return default
        raw = raw.strip()
        self.values[name] = raw
        if raw == "":
            if default is None:
                self.error(name, self._t.gettext("This is required."))
            return default
        try:
            number = int(raw, 10)
        except ValueError:
            number = None
        if number is None or not lo <= number <= hi:
            self.error(
                name,
                self._t.gettext("Enter a whole number from %(lo)d to %(hi)d.", lo=lo, hi=hi),
            )
            return default
        return number

    def flag(self, name: str) -> bool:
        raw = self._one(name)
        self.values[name] = bool(raw)
        return bool(raw)

    def date(self, name: str, *, today: datetime.date, max_age_days: int) -> str:
        """A day written YYYY-MM-DD, not in the future and not too long ago."""
        raw = self._one(name)
        if raw is None:
            return ""
        raw = raw.strip()
        self.values[name] = raw
        if not raw:
            self.error(name, self._t.gettext("This is required."))
            return ""
        try:
            day = datetime.date.fromisoformat(raw)
        except ValueError:
            day = None
        if day is None or day.isoformat() != raw:
            self.error(name, self._t.gettext("Enter a date written like 2024-05-31."))
            return ""
        if day > today:
            self.error(name, self._t.gettext("This date is in the future."))
            return ""
        if (today - day).days > max_age_days:
            self.error(name, self._t.gettext("This date is too long ago."))
            return ""
        return raw

    def indicator(self, name: str, kind: str, phone_region: str, *, required: bool = False) -> str:
        """An identifier of ``kind``, normalised as the protocol blinds it ("" if none)."""
        value = self.text(name, required=required, max_chars=MAX_INDICATOR_CHARS)
        if not value:
            return ""
        try:
            return normalise(kind, value, phone_region)
        except ProtocolError:
            self.error(name, indicator_error(self._t, kind, value, phone_region))
            return ""

    def region(self, name: str, allowed: list[str], *, required: bool = True) -> str:
        """One of the node's regions, or any region code when the node lists none."""
        if allowed:
            return self.choice(name, allowed, required=required)
        value = self.text(name, required=required, max_chars=20).upper()
        if not value:
            return ""
        try:
            return check_region(name, value)
        except ProtocolError:
            self.error(name, self._t.gettext("Write a region code like GB, GB-LND or FR-75."))
            return ""
