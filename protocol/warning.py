"""Area warnings: an alert that names no person (a police or immigration operation, a
"hunt" through a dating app, an area to avoid), carried by the must-understand
extension ``org.alertnode:warning`` of an ordinary alert body.

Rule: an alert body whose ``ext`` holds ``WARNING_EXT`` is a warning, and it is valid
only if the extension is also in ``must_understand`` (a node that does not know
warnings refuses them instead of showing one as an alert about a client), its value
is one of ``WARNING_KINDS``, it carries no indicator, its only category is
``other``, it allows no partner checks, corrects nothing, and it expires at most
``MAX_WARNING_EXPIRY_S`` after it was created. ``check_warning`` is called by the
alert decoder; nothing here does I/O.
"""

from __future__ import annotations

from .encoding import unpack
from .errors import InvalidField
from .limits import DAY_S, MAX_EXT_BYTES

WARNING_EXT = "org.alertnode:warning"
WARNING_KINDS: tuple[str, ...] = ("police", "immigration", "app-hunt", "area")
WARNING_CATEGORIES: tuple[str, ...] = ("other",)
# A warning is about something happening now: it lasts days, not months.
MAX_WARNING_EXPIRY_S = 30 * DAY_S
DEFAULT_WARNING_DAYS = 7


def warning_kind(raw: bytes | None) -> str | None:
    """The kind of warning the canonical extension value ``raw`` names (None: not a
    warning). Raises InvalidField (field ``WARNING_EXT``) for any other value."""
    if raw is None:
        return None
    value = unpack(raw, max_bytes=MAX_EXT_BYTES)
    if not isinstance(value, str) or value not in WARNING_KINDS:
        raise InvalidField(WARNING_EXT, f"must be one of {', '.join(WARNING_KINDS)}")
    return value


def check_warning(
    raw: bytes | None,
    must_understand: tuple[str, ...],
    *,
    indicators: int,
    categories: tuple[str, ...],
    partner_checks: bool,
    supersedes: bytes | None,
    created: int,
    expires: int,
) -> str | None:
    """Check the rules a warning's other fields keep; returns its kind (None when the
    body is no warning). Raises InvalidField naming the first field that breaks one."""
    kind = warning_kind(raw)
    if kind is None:
        return None
    if WARNING_EXT not in must_understand:
        raise InvalidField("must_understand", f"must list {WARNING_EXT} in a warning")
    if indicators:
        raise InvalidField("indicators", "a warning names no person, so it has no indicators")
    if categories != WARNING_CATEGORIES:
        raise InvalidField("categories", "a warning's only category is other")
    if partner_checks:
        raise InvalidField("partner_checks", "a warning has nothing to check")
    if supersedes is not None:
        raise InvalidField(
            "supersedes", "a warning is retracted and published again, not corrected"
        )
    if expires - created > MAX_WARNING_EXPIRY_S:
        raise InvalidField(
            "expires",
            f"a warning expires at most {MAX_WARNING_EXPIRY_S // DAY_S} days after created",
        )
    return kind
