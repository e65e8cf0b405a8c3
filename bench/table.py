"""``python -m bench.table FILE``: the JSON lines of a run as a Markdown table."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _num(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def render(lines: list[str]) -> str:
    out = ["| figure | value | unit | target | met |", "| --- | ---: | --- | ---: | --- |"]
    for line in lines:
        if not line.strip():
            continue
        f = json.loads(line)
        target = "" if f["target"] is None else _num(f["target"])
        met = {True: "yes", False: "**no**", None: ""}[f["met"]]
        value = "not measured" if f["value"] is None else _num(f["value"])
        if f["value"] is None and f["target"] is not None:
            met = "**not measured**"
        out.append(f"| {f['name']} | {value} | {f['unit']} | {target} | {met} |")
    return "\n".join(out)


if __name__ == "__main__":
    print(render(Path(sys.argv[1]).read_text().splitlines()))
