"""The redaction helper: find identifiers in an alert's free text before it is published.

Rule: anything that looks like a phone number, e-mail address, handle, link or number
plate in a description is flagged (a handle only where a platform's name and a
separator or an "@" introduce it, and never inside a markup tag), so a caseworker
decides for each one whether to move it into a blinded indicator field (where peers
receive only its Argon2id hash), remove it, or knowingly keep it. Moving or removing
replaces every occurrence of the exact text with a neutral mark; nothing is ever
rewritten silently. It cannot find names, workplaces, addresses or places: the editor
says so beside the description.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import phonenumbers

from .i18n import N_

MARK = "[…]"
OWN_ORGANISATION = N_("your organisation")  # translated where it is shown
MAX_FINDINGS = 30

_EMAIL_RE = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+")
_PLATFORMS = (
    "instagram|insta|ig|twitter|x|telegram|tg|snapchat|snap|whatsapp|wa|onlyfans|"
    "tiktok|facebook|fb|signal|tinder|grindr|reddit|discord|kik|line|wechat|viber"
)
# A platform's name counts only when a separator follows it ("insta: jay", "tg=jay",
# "x @jay"): the short names (x, ig, wa, line, signal) are ordinary words and letters,
# and "<img src=x onerror=...>" is not an X handle called onerror.
_HANDLE_RE = re.compile(
    rf"(?:(?<![\w=/.<-])(?P<platform>{_PLATFORMS})(?:\s*[:=]\s*@?|\s+@)"
    r"(?P<pname>[A-Za-z0-9_.]{2,30}))"
    r"|(?<![\w@.])@(?P<name>[A-Za-z0-9_.]{2,30})",
    re.IGNORECASE,
)
# Markup pasted into a description: tags and attribute names are not identifiers.
_TAG_RE = re.compile(r"</?[A-Za-z][^<>]{0,500}>")
_URL_RE = re.compile(r"\b(?:https?://|www\.)[^\s<>\"']{2,200}", re.IGNORECASE)
# Common European plate shapes (GB "AB12 CDE", FR "AB-123-CD", ES "1234 ABC", RO "B 123 ABC").
_PLATE_RE = re.compile(
    r"\b(?:[A-Z]{2}\d{2}\s?[A-Z]{3}|[A-Z]{2}-\d{3}-[A-Z]{2}|\d{4}\s?[A-Z]{3}|[A-Z]{1,2}\s\d{2,3}\s[A-Z]{3})\b"
)
_DIGITS_RE = re.compile(r"(?<![\w+])\+?\d[\d\s().-]{6,20}\d")
_DATE_RE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # the indicator field it can move to: phone, email, handle, plate, other
    text: str  # the exact text found
    suggestion: str  # what to put in the indicator field


def find_identifiers(text: str, phone_region: str = "") -> list[Finding]:
    """Identifiers found in ``text``, each exact text once, in order of appearance."""
    found: list[tuple[int, Finding]] = []
    taken: list[tuple[int, int]] = []

    def add(start: int, end: int, finding: Finding) -> None:
        if any(start < e and s < end for s, e in taken):
            return
        taken.append((start, end))
        found.append((start, finding))

    for m in _EMAIL_RE.finditer(text):
        add(m.start(), m.end(), Finding("email", m.group(), m.group()))
    for m in _URL_RE.finditer(text):
        add(m.start(), m.end(), Finding("other", m.group(), m.group()))
    region = phone_region.upper() or "ZZ"
    for pm in phonenumbers.PhoneNumberMatcher(text, region, phonenumbers.Leniency.POSSIBLE):
        if _DATE_RE.fullmatch(pm.raw_string.strip()):
            continue
        number = phonenumbers.format_number(pm.number, phonenumbers.PhoneNumberFormat.E164)
        add(pm.start, pm.end, Finding("phone", pm.raw_string, number))
    for m in _DIGITS_RE.finditer(text):
        if _DATE_RE.fullmatch(m.group().strip()):
            continue
        add(m.start(), m.end(), Finding("phone", m.group(), m.group()))
    tags = [(m.start(), m.end()) for m in _TAG_RE.finditer(text)]
    for m in _HANDLE_RE.finditer(text):
        if any(s <= m.start() < e for s, e in tags):
            continue
        if m.group("platform"):
            suggestion = f"{m.group('platform').lower()}:{m.group('pname')}"
        else:
            suggestion = m.group()  # the platform is unknown: the caseworker adds it
        add(m.start(), m.end(), Finding("handle", m.group(), suggestion))
    for m in _PLATE_RE.finditer(text):
        add(m.start(), m.end(), Finding("plate", m.group(), m.group()))
    found.sort(key=lambda item: item[0])
    unique = list(dict.fromkeys(f for _, f in found))
    return unique[:MAX_FINDINGS]


def remove_text(description: str, text: str) -> str:
    """``description`` with every occurrence of ``text`` replaced by the neutral mark."""
    return description.replace(text, MARK) if text else description


def as_seen(preview: dict[str, Any], organisation: str) -> dict[str, Any]:
    """An alert body previewed in the editor, in the shape the alert card shows
    (``_alert.html``): what a member of another organisation sees, the blinded
    identifiers reduced to their kinds."""
    return {
        "danger": preview["danger"],
        "incident": preview["incident"],
        "region": preview["region"],
        "categories": preview["categories"],
        "description": preview["description"],
        "lang": preview["lang"],
        "descriptions": preview["translations"],
        "organisation": organisation,
        "origin_known": True,
        "indicators": [i[0] for i in preview["indicators"]],
    }
