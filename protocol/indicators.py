"""Indicator normalisation and blinding.

Rule: every indicator is normalised to one canonical text before it is blinded, so
that the same phone number written three ways gives one blinded value; anything that
cannot be normalised is an ``InvalidIndicator`` with a sentence saying why, never a
silent mismatch. Blinding is Argon2id under a fixed per-kind protocol salt: every node
computes the same value, and checking one guess costs what a member's check costs.
No plaintext indicator leaves this module except as the caller's own input.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import nacl.pwhash.argon2id as argon2id
import phonenumbers

from .errors import InvalidIndicator
from .fields import INDICATOR_KINDS

BLINDED_BYTES = 32
# About 20 ms and 32 MiB on a 2-core server: costly in bulk, cheap for one check.
BLIND_OPSLIMIT = 2
BLIND_MEMLIMIT_BYTES = 32 * 1024 * 1024

_EMAIL_RE = re.compile(
    r"^[^@\s]{1,64}@[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?)+$"
)
_PLATFORM_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
_HANDLE_NAME_RE = re.compile(r"^[^\s:]{1,64}$")
_PLATE_SEPARATORS_RE = re.compile(r"[\s\-._·]")
_PLATE_RE = re.compile(r"^[A-Z0-9]{2,12}$")


def kind_salt(kind: str) -> bytes:
    """The fixed protocol salt for ``kind`` (16 bytes, as Argon2id wants)."""
    return hashlib.blake2b(b"alertnode:v1:indicator:" + kind.encode(), digest_size=16).digest()


def normalise_phone(text: str, default_region: str) -> str:
    try:
        number = phonenumbers.parse(text, default_region.upper() or None)
    except phonenumbers.NumberParseException:
        raise InvalidIndicator(
            "that does not look like a phone number; "
            "write it with its country code, like +44 7700 900123"
        ) from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidIndicator(
            "that phone number has the wrong number of digits for its country; "
            "check it and add the country code"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(text: str) -> str:
    value = unicodedata.normalize("NFKC", text).strip().lower()
    if len(value) > 254 or not _EMAIL_RE.match(value):
        raise InvalidIndicator("that is not an e-mail address like name@example.org")
    return value


def normalise_handle(text: str) -> str:
    value = unicodedata.normalize("NFKC", text).strip().lower()
    platform, sep, name = value.partition(":")
    platform, name = platform.strip(), name.strip().lstrip("@")
    if not sep or not _PLATFORM_RE.match(platform) or not _HANDLE_NAME_RE.match(name):
        raise InvalidIndicator("write a handle as platform:name, like instagram:somebody")
    return f"{platform}:{name}"


def normalise_plate(text: str) -> str:
    value = _PLATE_SEPARATORS_RE.sub("", unicodedata.normalize("NFKC", text).upper())
    if not _PLATE_RE.match(value):
        raise InvalidIndicator("a number plate has 2 to 12 letters and digits")
    return value


def normalise_other(text: str) -> str:
    value = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    if not 3 <= len(value) <= 128:
        raise InvalidIndicator("an identifier has 3 to 128 characters")
    return value


def normalise(kind: str, text: str, default_region: str = "") -> str:
    """The canonical text of indicator ``text`` of ``kind``.

    ``default_region`` (ISO 3166-1 alpha-2) reads phone numbers without a country code.
    Raises InvalidIndicator.
    """
    if not isinstance(text, str) or len(text) > 512:
        raise InvalidIndicator("an indicator is text of at most 512 characters")
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
    raise InvalidIndicator(f"unknown indicator kind; use one of {', '.join(INDICATOR_KINDS)}")


def blind_normalised(kind: str, normalised: str) -> bytes:
    """Argon2id of an already normalised indicator under its kind's salt."""
    return argon2id.kdf(
        BLINDED_BYTES,
        normalised.encode(),
        kind_salt(kind),
        opslimit=BLIND_OPSLIMIT,
        memlimit=BLIND_MEMLIMIT_BYTES,
    )


def blind(kind: str, text: str, default_region: str = "") -> bytes:
    """Normalise and blind one indicator. Raises InvalidIndicator."""
    return blind_normalised(kind, normalise(kind, text, default_region))


def hint_for(kind: str, normalised: str, chars: int = 2) -> str:
    """An optional hint: the last ``chars`` characters of the normalised value."""
    if not 1 <= chars <= 4:
        raise InvalidIndicator("a hint shows 1 to 4 characters")
    return normalised[-chars:]
