"""Node settings: one table of (name, default, help) that drives the admin page, the
config file, the docs and a test that every setting is documented.

Rule: a setting is read through ``Settings``, which validates every value an admin
sets; an unknown name or a bad value is a UsageError and changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import UsageError

_REGION_RE = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,6}){0,2}$")


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: Any
    help: str
    minimum: int | None = None
    maximum: int | None = None


SETTINGS: tuple[Setting, ...] = (
    Setting("regions", [], "Region codes members can choose for reports and browsing."),
    Setting("phone_region", "", "Country (ISO 3166-1, like GB) for phone numbers without a code."),
    Setting("report_retention_days", 90, "Days a raw report is kept before it is purged.", 1, 3650),
    Setting("audit_retention_days", 365, "Days audit entries are kept.", 1, 3650),
    Setting("alert_expiry_days", 90, "Default days until a published alert expires.", 1, 365),
    Setting("alert_hops", 2, "Default hops a published alert may travel.", 0, 6),
    Setting("invite_expiry_days", 14, "Days an invite code stays valid.", 1, 365),
    Setting(
        "session_idle_minutes", 30, "Minutes of inactivity before a web session ends.", 5, 1440
    ),
    Setting("checks_per_hour", 60, "Checks one member may make per hour.", 1, 10000),
)
BY_NAME = {s.name: s for s in SETTINGS}


def validate(name: str, value: Any) -> Any:
    """The value to store for ``name``. Raises UsageError."""
    setting = BY_NAME.get(name)
    if setting is None:
        raise UsageError(f"there is no setting called {name!r}")
    if isinstance(setting.default, bool) or not isinstance(setting.default, (int, str, list)):
        raise UsageError(f"{name} cannot be changed here")
    if isinstance(setting.default, int):
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise UsageError(f"{name} must be a whole number") from None
        lo, hi = setting.minimum, setting.maximum
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            raise UsageError(f"{name} must be between {lo} and {hi}")
        return number
    if name == "regions":
        items = value.replace(",", " ").split() if isinstance(value, str) else value
        if not isinstance(items, list) or len(items) > 50:
            raise UsageError("regions is a list of at most 50 region codes")
        codes = [str(i).strip().upper() for i in items]
        for code in codes:
            if not _REGION_RE.match(code):
                raise UsageError(f"{code!r} is not a region code like GB, GB-LND or FR-75")
        return sorted(set(codes))
    if name == "phone_region":
        code = str(value).strip().upper()
        if code and not re.match(r"^[A-Z]{2}$", code):
            raise UsageError("phone_region is a two-letter country code like GB or FR")
        return code
    raise UsageError(f"{name} cannot be changed here")


class Settings:
    """Current values: the stored ones over the defaults."""

    def __init__(self, stored: dict[str, Any]) -> None:
        self._values = {s.name: s.default for s in SETTINGS}
        self._values.update({k: v for k, v in stored.items() if k in BY_NAME})

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def set(self, name: str, value: Any) -> Any:
        self._values[name] = validate(name, value)
        return self._values[name]

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)
