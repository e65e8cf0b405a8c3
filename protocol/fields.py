"""Field readers and the closed vocabularies shared by every body.

Rule: a body is read with ``Reader``, which takes each expected key exactly once and
refuses unknown keys, wrong types and out-of-range values with an ``InvalidField``
naming the field. The closed lists here are the protocol's: every node knows every
value, so each can show it in its reader's language.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from types import MappingProxyType

from .errors import InvalidField, MalformedObject
from .limits import MAX_HOPS

CATEGORIES: tuple[str, ...] = (
    "violence",
    "sexual-assault",
    "robbery",
    "non-payment",
    "condom-refusal",
    "recording",
    "blackmail",
    "stalking",
    "police-impersonation",
    "time-waster",
    "other",
)

# Jasmine's three tiers; higher is worse.
DANGER_LEVELS: tuple[int, ...] = (1, 2, 3)

TLP_LABELS: tuple[str, ...] = ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED")

# TLP 2.0 as FIRST defines it, read for a federation of organisations (one node each):
# CLEAR and GREEN travel as far as the alert's hops allow; AMBER and AMBER+STRICT reach
# only the origin's direct peers, which never relay them (an AMBER recipient may share
# with its own organisation and its clients, not with other organisations); RED never
# leaves its node. The most hops each label allows:
TLP_MAX_HOPS: Mapping[str, int] = MappingProxyType(
    {"CLEAR": MAX_HOPS, "GREEN": MAX_HOPS, "AMBER": 1, "AMBER+STRICT": 1, "RED": 0}
)
# Labels a receiver may use to answer partner platforms' checks, when the origin allows
# it (``partner_checks``): a partner platform is a client the receiver serves, which
# AMBER allows and AMBER+STRICT (the organisation only) and RED do not.
TLP_PARTNER_LABELS: tuple[str, ...] = ("CLEAR", "GREEN", "AMBER")

INDICATOR_KINDS: tuple[str, ...] = ("phone", "email", "handle", "plate", "other")

RETRACTION_REASONS: tuple[str, ...] = (
    "mistaken",
    "resolved",
    "duplicate",
    "reporter-request",
    "superseded",
    "other",
)

_REGION_RE = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,6}){0,2}$")
_LANG_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$")


class Reader:
    """Reads the fields of a decoded body map, each exactly once."""

    def __init__(self, body: Mapping[str, object], what: str) -> None:
        self._body = dict(body)
        self._what = what

    def raw(self, key: str) -> object:
        if key not in self._body:
            raise InvalidField(key, f"missing from the {self._what}")
        return self._body.pop(key)

    def finish(self) -> None:
        if self._body:
            extra = ", ".join(sorted(self._body))
            raise MalformedObject(f"unknown fields in the {self._what}: {extra}")

    def integer(self, key: str, lo: int, hi: int) -> int:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidField(key, "must be an integer")
        if not lo <= value <= hi:
            raise InvalidField(key, f"must be between {lo} and {hi}, not {value}")
        return value

    def boolean(self, key: str) -> bool:
        value = self.raw(key)
        if not isinstance(value, bool):
            raise InvalidField(key, "must be true or false")
        return value

    def blob(self, key: str, length: int, *, optional: bool = False) -> bytes | None:
        value = self.raw(key)
        if value is None and optional:
            return None
        if not isinstance(value, bytes) or len(value) != length:
            raise InvalidField(key, f"must be {length} bytes")
        return value

    def text(self, key: str, max_chars: int) -> str:
        value = self.raw(key)
        if not isinstance(value, str):
            raise InvalidField(key, "must be text")
        if len(value) > max_chars:
            raise InvalidField(key, f"is {len(value)} characters, more than {max_chars}")
        return value

    def items(self, key: str, max_len: int) -> tuple[object, ...]:
        value = self.raw(key)
        if not isinstance(value, tuple):
            raise InvalidField(key, "must be a list")
        if len(value) > max_len:
            raise InvalidField(key, f"has {len(value)} items, more than {max_len}")
        return value


def check_region(field: str, region: str) -> str:
    if not _REGION_RE.fullmatch(region):
        raise InvalidField(field, "must be a region code like GB, GB-LND or FR-75")
    return region


def check_lang(field: str, lang: str) -> str:
    if not _LANG_RE.fullmatch(lang):
        raise InvalidField(field, "must be a language tag like en, fr or pt-BR")
    return lang


def check_choice(field: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise InvalidField(field, f"must be one of {', '.join(choices)}")
    return value


def check_hour(field: str, value: int) -> int:
    if value % 3600:
        raise InvalidField(field, "must be coarsened to a whole hour")
    return value


def parse_date(field: str, value: str) -> datetime.date:
    try:
        date = datetime.date.fromisoformat(value)
    except ValueError:
        date = None
    # fromisoformat also reads "2024-W01-1" and "20240101"; only one spelling is canonical.
    if date is None or date.isoformat() != value:
        raise InvalidField(field, "must be a date written YYYY-MM-DD")
    return date


_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def check_text(field: str, value: str) -> str:
    """Refuse control characters other than newline and tab in free text."""
    if _CONTROL_RE.search(value):
        raise InvalidField(field, "contains control characters")
    return value
