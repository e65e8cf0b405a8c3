"""Indicator normalisation: one canonical text for each way of writing an identifier
(docs/protocol.md section 6, "Normalisation").

Rule: every step here is one the spec names by a Unicode or RFC algorithm, with the
data it depends on pinned (Unicode 14.0, the Default_Ignorable_Code_Point ranges and
the whitespace set below, libphonenumber metadata 9.0.43, RFC 3492 Punycode), so an
implementation in another language gets the same text, byte for byte, and the golden
vectors in tests/vectors/normalisation.json check it. Anything that cannot be
normalised is an ``InvalidIndicator`` carrying a stable ``reason`` code and a sentence
for a person; it is never blinded as it stands. Pure: no I/O; the default region is
passed in.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable

import phonenumbers

from .errors import InvalidIndicator
from .fields import INDICATOR_KINDS

# The Unicode version whose data the rules use (Python 3.11's unicodedata).
UNICODE_VERSION = "14.0.0"
MAX_INPUT_CHARS = 512

# Reason codes of InvalidIndicator (docs/protocol.md section 6, "Refusals"); stable.
TOO_LONG = "too_long"
BAD_CHARACTER = "bad_character"
UNKNOWN_KIND = "unknown_kind"
NOT_A_NUMBER = "not_a_number"
NO_COUNTRY = "no_country"
WRONG_LENGTH = "wrong_length"
BAD_EMAIL = "bad_email"
BAD_IDN = "bad_idn"
LOCAL_TOO_LONG = "local_too_long"
LABEL_TOO_LONG = "label_too_long"
EMAIL_TOO_LONG = "email_too_long"
BAD_PLATFORM = "bad_platform"
BAD_HANDLE = "bad_handle"
BAD_PLATE = "bad_plate"
BAD_LENGTH = "bad_length"
REASONS: tuple[str, ...] = (
    TOO_LONG, BAD_CHARACTER, UNKNOWN_KIND, NOT_A_NUMBER, NO_COUNTRY, WRONG_LENGTH,
    BAD_EMAIL, BAD_IDN, LOCAL_TOO_LONG, LABEL_TOO_LONG, EMAIL_TOO_LONG, BAD_PLATFORM,
    BAD_HANDLE, BAD_PLATE, BAD_LENGTH,
)  # fmt: skip

# Whitespace: White_Space, plus the characters of bidirectional class B, S or WS
# (U+001C..U+001F). Exactly what Python's str.isspace() means; listed so that no
# other definition can creep in.
WHITESPACE = frozenset(
    chr(c)
    for c in (
        *range(0x09, 0x0E), *range(0x1C, 0x21), 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
        0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
    )
)  # fmt: skip
_WS = "".join(sorted(WHITESPACE))
_WS_CLASS = "[" + re.escape(_WS) + "]"

# Default_Ignorable_Code_Point, Unicode 14.0 (DerivedCoreProperties.txt), as ranges.
DEFAULT_IGNORABLE: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
    (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)  # fmt: skip
_DI_STARTS = tuple(lo for lo, _ in DEFAULT_IGNORABLE)

# ITU-T E.161 keypad letters, for vanity numbers (0800 FLOWERS).
_KEYPAD = {
    letter: str(digit)
    for digit, letters in ((2, "abc"), (3, "def"), (4, "ghi"), (5, "jkl"), (6, "mno"),
                           (7, "pqrs"), (8, "tuv"), (9, "wxyz"))
    for letter in letters
}  # fmt: skip
# Visual separators in a phone number (after NFKC), dropped.
PHONE_SEPARATORS = WHITESPACE | frozenset("-.()[]/~\u2010\u2011\u2012\u2013\u2014\u2015\u2212")
# An extension at the end: after a digit, whitespace or ")", a marker, then 1-20 digits.
_EXTENSION_RE = re.compile(
    rf"(?<=[0-9{re.escape(_WS)})]){_WS_CLASS}*(?:;ext=|extension|ext|x|#)"
    rf"{_WS_CLASS}*[.:]?{_WS_CLASS}*[0-9]{{1,20}}{_WS_CLASS}*\Z"
)
MIN_PHONE_DIGITS = 3
MAX_PHONE_DIGITS = 20

MAX_LOCAL_OCTETS = 64
MAX_LABEL_OCTETS = 63
MAX_EMAIL_OCTETS = 254
_ASCII_LABEL_RE = re.compile(r"[a-z0-9-]+")
_PLATFORM_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")
MAX_HANDLE_NAME_CHARS = 64
PLATE_SEPARATORS = WHITESPACE | frozenset("-._\u00b7")
_PLATE_RE = re.compile(r"[A-Z0-9]{2,12}")
MIN_OTHER_CHARS, MAX_OTHER_CHARS = 3, 128


def _refuse(reason: str, message: str) -> InvalidIndicator:
    return InvalidIndicator(message, reason=reason)


def is_default_ignorable(code_point: int) -> bool:
    index = bisect.bisect_right(_DI_STARTS, code_point) - 1
    return index >= 0 and code_point <= DEFAULT_IGNORABLE[index][1]


def _is_whitespace(ch: str) -> bool:
    return ch in WHITESPACE


def trim(text: str) -> str:
    return text.strip(_WS)


def unicode_steps(text: str, case: Callable[[str], str]) -> str:
    """Steps 1-4 of every kind: drop default-ignorable code points, refuse what is left
    unassigned, a surrogate or a control that is not whitespace, then NFKC, the case
    mapping, and NFKC again. Raises InvalidIndicator (bad_character)."""
    text = "".join(ch for ch in text if not is_default_ignorable(ord(ch)))
    for ch in text:
        category = unicodedata.category(ch)
        if category in ("Cn", "Cs") or (category == "Cc" and ch not in WHITESPACE):
            raise _refuse(
                BAD_CHARACTER,
                "that text holds a character that cannot be part of it, a control"
                " character or one Unicode does not define; retype it",
            )
    text = unicodedata.normalize("NFKC", text)
    return unicodedata.normalize("NFKC", case(text))


def fold(text: str) -> str:
    """Unicode steps with full case folding (toCasefold)."""
    return unicode_steps(text, str.casefold)


# --- phone ---------------------------------------------------------------------------


def _not_a_number() -> InvalidIndicator:
    return _refuse(
        NOT_A_NUMBER,
        "that does not look like a phone number; "
        "write it with its country code, like +44 7700 900123",
    )


def _wrong_length() -> InvalidIndicator:
    return _refuse(
        WRONG_LENGTH,
        "that phone number has the wrong number of digits for its country; "
        "check it and add the country code",
    )


def phone_digits(text: str) -> str:
    """The number as ``[+]digits``, before libphonenumber: steps P1-P6 of the spec."""
    value = fold(text)
    # Every decimal digit (General_Category Nd) is its ASCII digit: Arabic-Indic, ...
    value = "".join(
        str(unicodedata.decimal(ch)) if unicodedata.category(ch) == "Nd" else ch for ch in value
    )
    value = trim(value)
    if value.startswith("tel:"):
        value = value[4:].split(";", 1)[0]
    extension = _EXTENSION_RE.search(value)
    if extension is not None:
        value = value[: extension.start()]
    # Dial pauses: what follows "," or ";" is dialled once the call connects.
    value = re.split("[,;]", value, maxsplit=1)[0]
    start = next((i for i, ch in enumerate(value) if ch in "0123456789+"), None)
    if start is None:
        raise _not_a_number()
    value = "".join(_KEYPAD.get(ch, ch) for ch in value[start:])
    out = []
    for i, ch in enumerate(value):
        if ch in PHONE_SEPARATORS:
            continue
        if not ("0" <= ch <= "9" or (ch == "+" and i == 0)):
            raise _not_a_number()
        out.append(ch)
    digits = "".join(out)
    if digits in ("", "+"):
        raise _not_a_number()
    if not MIN_PHONE_DIGITS <= len(digits.lstrip("+")) <= MAX_PHONE_DIGITS:
        raise _wrong_length()
    return digits


def normalise_phone(text: str, default_region: str) -> str:
    digits = phone_digits(text)
    region = default_region.upper() or None
    try:
        number = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            raise _refuse(
                NO_COUNTRY,
                "that phone number has no country code this node can read; "
                "write it with its country code, like +44 7700 900123",
            ) from None
        if exc.error_type == phonenumbers.NumberParseException.NOT_A_NUMBER:
            raise _not_a_number() from None
        raise _wrong_length() from None
    if not phonenumbers.is_possible_number(number):
        raise _wrong_length()
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- e-mail --------------------------------------------------------------------------


def _bad_email() -> InvalidIndicator:
    return _refuse(BAD_EMAIL, "that is not an e-mail address like name@example.org")


def _bad_idn() -> InvalidIndicator:
    return _refuse(
        BAD_IDN, "that e-mail address has a domain part starting xn-- that does not decode"
    )


def _punycode(text: str) -> str:
    return text.encode("punycode").decode("ascii")


def _u_label(label: str) -> str:
    """The Unicode label an ``xn--`` label encodes (RFC 3492), folded like the rest."""
    encoded = label[4:]
    if not encoded.isascii():
        raise _bad_idn()
    try:
        decoded = encoded.encode("ascii").decode("punycode")
    except (UnicodeError, ValueError, IndexError, OverflowError):
        raise _bad_idn() from None
    if _punycode(decoded) != encoded:
        raise _bad_idn()
    return fold(decoded)


def _a_label(label: str) -> str:
    """One domain label in its canonical A-label form."""
    if label.startswith("xn--"):
        label = _u_label(label)
    if not label or label[0] == "-" or label[-1] == "-":
        raise _bad_email()
    if label.isascii():
        if not _ASCII_LABEL_RE.fullmatch(label):
            raise _bad_email()
        a_label = label
    else:
        for ch in label:
            if ch.isascii():
                ok = _ASCII_LABEL_RE.fullmatch(ch) is not None
            else:
                ok = unicodedata.category(ch)[0] in "LM" or unicodedata.category(ch) == "Nd"
            if not ok:
                raise _bad_email()
        a_label = "xn--" + _punycode(label)
    if len(a_label) > MAX_LABEL_OCTETS:
        raise _refuse(
            LABEL_TOO_LONG, f"each part of an e-mail domain has at most {MAX_LABEL_OCTETS} letters"
        )
    return a_label


def normalise_email(text: str) -> str:
    value = trim(fold(text))
    value = value.removeprefix("mailto:")
    if value.count("@") != 1:
        raise _bad_email()
    local, _, domain = value.partition("@")
    if not local or any(_is_whitespace(ch) for ch in local):
        raise _bad_email()
    if len(local.encode()) > MAX_LOCAL_OCTETS:
        raise _refuse(
            LOCAL_TOO_LONG,
            f"the part of an e-mail address before @ has at most {MAX_LOCAL_OCTETS} bytes",
        )
    labels = domain.split(".")
    if len(labels) < 2:
        raise _bad_email()
    value = local + "@" + ".".join(_a_label(label) for label in labels)
    if len(value.encode()) > MAX_EMAIL_OCTETS:
        raise _refuse(EMAIL_TOO_LONG, f"an e-mail address has at most {MAX_EMAIL_OCTETS} bytes")
    return value


# --- handle, plate, other ------------------------------------------------------------


def normalise_handle(text: str) -> str:
    value = trim(fold(text))
    platform, sep, name = value.partition(":")
    platform, name = trim(platform), trim(name).lstrip("@")
    if not sep:
        raise _refuse(BAD_HANDLE, "write a handle as platform:name, like instagram:somebody")
    if not _PLATFORM_RE.fullmatch(platform):
        raise _refuse(
            BAD_PLATFORM,
            "write a handle as platform:name, like instagram:somebody; the platform"
            " has letters, digits and . _ - only",
        )
    if (
        not 1 <= len(name) <= MAX_HANDLE_NAME_CHARS
        or ":" in name
        or any(_is_whitespace(ch) for ch in name)
    ):
        raise _refuse(BAD_HANDLE, "write a handle as platform:name, like instagram:somebody")
    return f"{platform}:{name}"


def normalise_plate(text: str) -> str:
    value = "".join(ch for ch in unicode_steps(text, str.upper) if ch not in PLATE_SEPARATORS)
    if not _PLATE_RE.fullmatch(value):
        raise _refuse(BAD_PLATE, "a number plate has 2 to 12 letters and digits")
    return value


def normalise_other(text: str) -> str:
    value = " ".join(_split_whitespace(fold(text)))
    if not MIN_OTHER_CHARS <= len(value) <= MAX_OTHER_CHARS:
        raise _refuse(
            BAD_LENGTH, f"an identifier has {MIN_OTHER_CHARS} to {MAX_OTHER_CHARS} characters"
        )
    return value


def _split_whitespace(text: str) -> list[str]:
    return [word for word in re.split(_WS_CLASS + "+", text) if word]


def normalise(kind: str, text: str, default_region: str = "") -> str:
    """The canonical text of indicator ``text`` of ``kind``.

    ``default_region`` (ISO 3166-1 alpha-2, any case) reads phone numbers without a
    country code. Raises InvalidIndicator with a ``reason`` from REASONS.
    """
    if not isinstance(text, str) or len(text) > MAX_INPUT_CHARS:
        raise _refuse(TOO_LONG, f"an indicator is text of at most {MAX_INPUT_CHARS} characters")
    if kind == "phone":
        return normalise_phone(text, default_region)
    if kind == "email":
        return normalise_email(text)
    if kind == "handle":
        return normalise_handle(text)
    if kind == "plate":
        return normalise_plate(text)
    if kind == "other":
        return normalise_other(text)
    raise _refuse(UNKNOWN_KIND, f"unknown indicator kind; use one of {', '.join(INDICATOR_KINDS)}")
