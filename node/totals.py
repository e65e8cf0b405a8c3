"""The donor report: coarse totals by quarter, small counts hidden.

Rule: the report is made only from the monthly counters (node/store/totals.py), never
from per-member rows; a period is a calendar quarter (cut to the months asked for),
and every count under ``MIN_SHOWN`` is shown as ``FEWER_THAN`` so that no small
number points at a person. ``members`` is the member count last recorded in the
period; the others are sums over its months.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from .errors import UsageError
from .setting_kinds import N_
from .store.totals import month_of

MIN_SHOWN = 5
FEWER_THAN = "fewer than 5"
# What a period holds, in this order (the contract's keys, and two more).
KEYS = (
    "members",
    "new_members",
    "checks",
    "reports",
    "alerts_published",
    "warnings_published",
    "alerts_received",
)
_MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
# The text for funders shown with the report (marked for translation).
FUNDER_TEXT = N_(
    "This organisation keeps no names. Members join with a nickname chosen by them; we "
    "do not ask for identity documents, addresses, phone numbers or payment details, and "
    "we do not log who visits or what they look up. Sex workers face arrest, eviction, "
    "deportation and violence when lists of names leak or are seized, so the safest data "
    "is data that does not exist. These figures are counted by month as things happen, "
    "without recording who did them, and numbers under 5 are not shown, so that no "
    "figure can point to a person."
)


def parse_month(text: str, flag: str) -> str:
    """YYYY-MM, checked. Raises UsageError."""
    if not _MONTH_RE.match(text.strip()):
        raise UsageError(f"{flag} is a month written YYYY-MM, like 2026-10")
    return text.strip()


def quarter_of(month: str) -> str:
    year, mon = month.split("-")
    return f"{year}-Q{(int(mon) - 1) // 3 + 1}"


def months_between(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` inclusive (empty if first > last)."""
    year, mon = map(int, first.split("-"))
    out = []
    while f"{year:04d}-{mon:02d}" <= last:
        out.append(f"{year:04d}-{mon:02d}")
        year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
    return out


def shown(n: int) -> int | str:
    """A count as a report shows it: under ``MIN_SHOWN`` it is ``FEWER_THAN``."""
    return n if n >= MIN_SHOWN else FEWER_THAN


def periods(months: dict[str, dict[str, int]], first: str, last: str) -> list[dict[str, Any]]:
    """The report's periods, quarter by quarter, from the monthly values ``months``."""
    out: list[dict[str, Any]] = []
    by_quarter: dict[str, list[str]] = {}
    for month in months_between(first, last):
        by_quarter.setdefault(quarter_of(month), []).append(month)
    for quarter, its_months in by_quarter.items():
        sums = {key: 0 for key in KEYS if key != "members"}
        members = 0
        for month in its_months:
            values = months.get(month, {})
            for key in sums:
                sums[key] += values.get(key, 0)
            members = values.get("members", members)
        out.append(
            {
                "period": quarter,
                "first_month": its_months[0],
                "last_month": its_months[-1],
                "members": shown(members),
                **{key: shown(value) for key, value in sums.items()},
            }
        )
    return out


def default_range(first_stored: str | None, now: int) -> tuple[str, str]:
    """From the quarter of the first month with data (or this one) to this month."""
    this = month_of(now)
    first = first_stored or this
    year, mon = map(int, first.split("-"))
    return f"{year:04d}-{(mon - 1) // 3 * 3 + 1:02d}", this


async def report(store: Any, now: int, first: str | None, last: str | None) -> dict[str, Any]:
    """The totals report for the months ``first`` to ``last`` (YYYY-MM; None: the
    default range). Raises UsageError for a bad or reversed range."""
    lo, hi = default_range(await store.totals.first_month(), now)
    first = lo if first is None else parse_month(first, "--from")
    last = hi if last is None else parse_month(last, "--to")
    if first > last:
        raise UsageError("--from is after --to")
    if len(months_between(first, last)) > 12 * 20:
        raise UsageError("ask for at most 20 years at once")
    # The member count of this month, as of now (the gauge is also kept hourly).
    await store.totals.set_gauge("members", now, await store.members.count())
    values = await store.totals.months(first, last)
    made = datetime.datetime.fromtimestamp(now, datetime.UTC).date().isoformat()
    return {
        "periods": periods(values, first, last),
        "from": first,
        "to": last,
        "made": made,
        "fewer_than": MIN_SHOWN,
    }
