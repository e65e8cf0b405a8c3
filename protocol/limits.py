"""Named limits of the wire protocol.

Rule: every size, length, count and depth a decoder accepts is bounded here, and the
bounds are passed to msgpack's unpacker so that no oversized value is ever built.
Callers may pass a stricter ``Limits`` but the defaults are the protocol's.
"""

from __future__ import annotations

from dataclasses import dataclass

HOUR_S = 3600
DAY_S = 86400

MAX_ENVELOPE_BYTES = 16 * 1024
MAX_BODY_BYTES = 12 * 1024
MAX_STR_BYTES = 8 * 1024
MAX_BIN_BYTES = 64
MAX_ARRAY_LEN = 32
MAX_MAP_LEN = 32
MAX_DEPTH = 4

MAX_DESCRIPTION_CHARS = 2000
MAX_INDICATORS = 16
MAX_CATEGORIES = 6
MAX_HINT_CHARS = 8
MAX_REGION_CHARS = 20
MAX_NAME_CHARS = 80
MAX_HOPS = 6
# Alert body v2: a random nonce makes every publish a new alert (and a new id).
ALERT_NONCE_BYTES = 16
# Translations of an alert's description, and a cap on all its description text.
MAX_TRANSLATIONS = 8
MAX_DESCRIPTIONS_BYTES = 8 * 1024
# Extensions (protocol/extensions.py): keys, their length and the packed ext map.
MAX_EXT_KEYS = 8
MAX_EXT_KEY_CHARS = 64
MAX_EXT_BYTES = 1024
MAX_EXPIRY_S = 365 * DAY_S
MAX_INCIDENT_AGE_DAYS = 10 * 365
# A receiver tolerates this much clock skew on "created" and request timestamps.
MAX_CLOCK_SKEW_S = 5 * 60


@dataclass(frozen=True, slots=True)
class Limits:
    """Decoder limits; every field is a hard upper bound."""

    envelope_bytes: int = MAX_ENVELOPE_BYTES
    body_bytes: int = MAX_BODY_BYTES
    str_bytes: int = MAX_STR_BYTES
    bin_bytes: int = MAX_BIN_BYTES
    array_len: int = MAX_ARRAY_LEN
    map_len: int = MAX_MAP_LEN
    depth: int = MAX_DEPTH


DEFAULT_LIMITS = Limits()
