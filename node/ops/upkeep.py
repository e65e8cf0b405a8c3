"""The node's upkeep: the retention sweep the jobs run, and what ``status`` counts.

Both work on an unlocked node's store; neither returns anything about a person (counts,
states and error codes only), so ``status --json`` and the jobs' log stay safe to show.
"""

from __future__ import annotations

from typing import Any

from ..notify.outbox import Notifier
from ..settings import Settings
from ..store import Store

DAY_S = 86400


async def run_retention(store: Store, settings: Settings, now: int) -> dict[str, Any]:
    """Purge what has outlived its retention; the counts of what went."""
    purged = await store.alerts.purge_expired(now)
    reports = await store.reports.purge_older_than(now - settings["report_retention_days"] * DAY_S)
    audit = await store.audit.purge_older_than(now - settings["audit_retention_days"] * DAY_S)
    invites = await store.members.purge_invites(now)
    await store.vouches.purge(now)
    # Partner reports and membership requests keep as long as members' reports.
    partners = await store.partners.purge(now - settings["report_retention_days"] * DAY_S, now)
    # Issue 16: this month's member count for the totals; anonymous feedback is kept as
    # long as reports are.
    await store.totals.set_gauge("members", now, await store.members.count())
    await store.feedback.purge_older_than(now - settings["report_retention_days"] * DAY_S)
    # A node with area warnings off holds none (protocol.md 5b), also when it held
    # some before the setting was turned off by a path that did not drop them.
    warnings = 0 if settings["area_warnings"] else await store.alerts.purge_warnings()
    if store.db.checkpoint_pending:
        await store.db.checkpoint()
    return {
        **purged, "reports": reports, "audit": audit, "invites": invites,
        "partner_records": partners, "warnings": warnings,
    }  # fmt: skip


async def unlocked_status(store: Store, notifier: Notifier, now: int) -> dict[str, Any]:
    """The keys ``status`` adds when the node is unlocked (add keys; never rename)."""
    return {
        "counts": {**await store.alerts.counts(now), "members": await store.members.count()},
        "notifications": {"channels": await notifier.status(), "dropped": notifier.dropped},
        "sms": await store.sms.status(),
        "partners": {
            **await store.partners.status(),
            "webhooks_queued": await store.webhooks.length(),
        },
    }
