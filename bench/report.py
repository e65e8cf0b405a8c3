"""One JSON line per figure: the only output format of the benchmarks.

Rule: every figure carries its target in its own unit (or null) and whether it was
met (or null where there is no target, or no measurement: a value of null is "not
measured", never met), so the table is built from the lines alone.
"""

from __future__ import annotations

import json
import sys
from typing import Any

REQUIRED_KEYS = ("name", "value", "unit", "target", "met", "detail")


def judge(value: float | None, target: float | None, at_most: bool = True) -> bool | None:
    """Whether ``value`` meets ``target``: None when there is no target, and None when
    nothing was measured. A figure that was not measured is never met."""
    if target is None or value is None:
        return None
    return bool(value <= target) if at_most else bool(value >= target)


def emit(
    name: str,
    value: float | None,
    unit: str,
    *,
    target: float | None = None,
    at_most: bool = True,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Print one figure, judged against its own target (``judge``).

    ``value`` None means "not measured" (say why in ``detail``): ``met`` is then null
    whatever the target.
    """
    line = {
        "name": name,
        "value": round(value, 4) if isinstance(value, float) else value,
        "unit": unit,
        "target": target,
        "met": judge(value, target, at_most),
        "detail": detail or {},
    }
    print(json.dumps(line), flush=True)
    return line


def note(text: str) -> None:
    """Progress for a person watching; stderr, so stdout stays pure JSON lines."""
    print(f"[bench] {text}", file=sys.stderr, flush=True)
