"""Area warnings as the node's people use them: publishing one, and telling them apart
from alerts about clients.

Rule: nothing publishes a warning while the ``area_warnings`` setting is off (the
organisation's choice), and a warning is built only here: no indicators, the category
``other``, a short expiry (``DEFAULT_WARNING_DAYS`` unless the caseworker chooses, at
most ``MAX_WARNING_DAYS``). It is signed, travels and is retracted as any alert is
(``AlertService``); protocol/warning.py holds the wire rules every receiver checks.
Turning the setting off removes every warning the node holds (``setting_changed``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from protocol.limits import DAY_S
from protocol.warning import (
    DEFAULT_WARNING_DAYS,
    MAX_WARNING_EXPIRY_S,
    WARNING_CATEGORIES,
    WARNING_KINDS,
)

from .errors import UsageError
from .service import AlertService, Draft
from .setting_kinds import N_
from .settings import Settings

if TYPE_CHECKING:
    from .store.alerts import AlertStore

MAX_WARNING_DAYS = MAX_WARNING_EXPIRY_S // DAY_S
# What members read for each kind (marked for translation, translated where shown).
KIND_LABELS = {
    "police": N_("Police operation"),
    "immigration": N_("Immigration operation"),
    "app-hunt": N_("Hunt through a dating or booking app"),
    "area": N_("Area to avoid"),
}
OFF = N_(
    "Area warnings are off on this node; an admin can turn them on in the settings (area_warnings)."
)


def warning_draft(
    kind: str,
    danger: int,
    region: str,
    description: str = "",
    expires_days: int | None = None,
    lang: str = "en",
    hops: int | None = None,
    tlp: str = "GREEN",
    idempotency_key: str | None = None,
) -> Draft:
    """The draft of a warning. Raises UsageError for a kind or expiry out of range."""
    if kind not in WARNING_KINDS:
        raise UsageError(f"a warning's kind is one of {', '.join(WARNING_KINDS)}")
    days = DEFAULT_WARNING_DAYS if expires_days is None else expires_days
    if not 1 <= days <= MAX_WARNING_DAYS:
        raise UsageError(f"a warning expires after 1 to {MAX_WARNING_DAYS} days")
    return Draft(
        categories=WARNING_CATEGORIES,
        danger=danger,
        region=region,
        description=description,
        lang=lang,
        hops=hops,
        tlp=tlp,
        expires_days=days,
        warning=kind,
        idempotency_key=idempotency_key,
    )


async def publish_warning(alerts: AlertService, settings: Settings, draft: Draft) -> bytes:
    """Sign and store the warning ``draft``; returns its id. Raises UsageError, also
    when the organisation has not turned area warnings on."""
    if not settings["area_warnings"]:
        raise UsageError(OFF)
    if draft.warning is None or draft.indicators:
        raise UsageError("a warning names no person and carries no identifier")
    return await alerts.publish(draft)


async def setting_changed(alerts: AlertStore, name: str, value: Any) -> int:
    """What a stored change of setting ``name`` to ``value`` needs besides: turning
    ``area_warnings`` off drops every warning held (docs/protocol.md section 5b), as
    the admin page and ``settings set`` both call it. Returns how many warnings went."""
    if name == "area_warnings" and not value:
        return await alerts.purge_warnings()
    return 0


def split(items: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(alerts about clients, area warnings) of ``alert_json`` items, order kept."""
    alerts: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    for item in items:
        (warnings if item.get("warning") else alerts).append(item)
    return alerts, warnings
