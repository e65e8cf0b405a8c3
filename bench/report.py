"""One JSON line per figure: the only output format of the benchmarks.

Rule: every figure carries its target in its own unit (or null) and whether it was
met (or null where there is no target), so the table is built from the lines alone.
"""

from __future__ import annotations

import json
import sys
from typing import Any

REQUIRED_KEYS = ("name", "value", "unit", "target", "met", "detail")


def emit(
    name: str,
    value: float,
    unit: str,
    *,
    target: float | None = None,
    at_most: bool = True,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Print one figure; ``met`` compares ``value`` with ``target`` (<= unless at_most=False)."""
    met: bool | None = None
    if target is not None:
        met = bool(value <= target) if at_most else bool(value >= target)
    line = {
        "name": name,
        "value": round(value, 4) if isinstance(value, float) else value,
        "unit": unit,
        "target": target,
        "met": met,
        "detail": detail or {},
    }
    print(json.dumps(line), flush=True)
    return line


def note(text: str) -> None:
    """Progress for a person watching; stderr, so stdout stays pure JSON lines."""
    print(f"[bench] {text}", file=sys.stderr, flush=True)
