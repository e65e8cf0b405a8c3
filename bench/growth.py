"""``python -m bench.growth RESULTS [--doc FILE] [--plots DIR]``: how cost grows.

Reads the JSON lines of one ``python -m bench`` run and writes, between the markers
``<!-- growth:start -->`` and ``<!-- growth:end -->`` of docs/benchmarks.md, two
tables: cost against store size (10k, 100k, 1M alerts) and propagation against
network size (bench/network.py); then draws two PNG plots with matplotlib (the
``bench`` extra; never a runtime dependency): propagation time against network size
and check latency against store size.

Rule: a cell shows only a figure of that run. A figure the run did not produce, or
produced as null, reads "not measured"; every column says what it counts and its
target (the figure's own, from its JSON line).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .table import _num

STORE_SIZES = (10_000, 100_000, 1_000_000)
NETWORK_SIZES = (100, 300, 1000)
PLOTS = ("propagation.png", "check_latency.png")
START = "<!-- growth:start -->"
END = "<!-- growth:end -->"


@dataclass(frozen=True)
class Column:
    title: str
    name: str  # figure name with {n} for the size
    counts: str
    unit: str


STORE_COLUMNS = (
    Column("check p99", "check.{n}.p99", "one `AlertService.check`: blinding + lookup", "ms"),
    Column(
        "alerts page p50",
        "pages.{n}.solo_p50",
        "GET /alerts through the web port, one member (bench/pages.py)",
        "ms",
    ),
    Column("idle sync", "idle_sync.{n}.payload_bytes", "payload bytes of one idle pull", "bytes"),
    Column(
        "catch-up",
        "footprint.{n}.catchup_s",
        "a new peer pulling 5,000 alerts from a node holding n, while 40 checks run",
        "s",
    ),
    Column("start-up", "footprint.{n}.startup", "spawn until unlocked and listening", "s"),
    Column("peak memory", "footprint.{n}.peak_rss", "VmHWM of the node process", "MB"),
)

NETWORK_COLUMNS = (
    Column(
        "99% hold it",
        "network.{n}.p99_median",
        "time until 99% of the nodes within the hop limit (graph distance) hold a new "
        "alert, median over alerts, simulated s",
        "s",
    ),
    Column("all hold it", "network.{n}.all_max", "the same for 100%, max over alerts", "s"),
    Column(
        "99% of reachable hold it",
        "network.{n}.reachable_p99_median",
        "99% of the nodes the hop rule let it reach, median over alerts",
        "s",
    ),
    Column(
        "all reachable hold it",
        "network.{n}.reachable_all_max",
        "100% of the nodes the hop rule let it reach (entitled less those cut off by "
        "the hop path), max over alerts",
        "s",
    ),
    Column(
        "missed", "network.{n}.missed", "entitled nodes that never got it, all alerts", "deliveries"
    ),
    Column(
        "cut by hop path",
        "network.{n}.missed_hop_path",
        "of the missed, those whose every peer holding it received it at the hop limit",
        "deliveries",
    ),
    Column(
        "bytes/node/alert",
        "network.{n}.payload_bytes_per_node_per_alert",
        "payload bytes, every request and answer",
        "bytes/node/alert",
    ),
    Column(
        "bodies/edge/alert", "network.{n}.bodies_per_edge", "bodies received", "bodies/edge/alert"
    ),
    Column("rejoin catch-up", "network.{n}.rejoin_catchup", "simulated s after an hour down", "s"),
)


def load(lines: list[str]) -> dict[str, dict[str, Any]]:
    figures = {}
    for line in lines:
        if line.strip().startswith("{"):
            f = json.loads(line)
            figures[f["name"]] = f
    return figures


def cell(figures: dict[str, dict[str, Any]], name: str) -> str:
    f = figures.get(name)
    if f is None or f["value"] is None:
        return "not measured"
    text = _num(f["value"])
    if f["met"] is False:
        text += " **(missed)**"
    return text


def _header(
    figures: dict[str, dict[str, Any]], columns: tuple[Column, ...], sizes: tuple[int, ...]
) -> str:
    """Each column's title with its unit and target, from the first figure found."""
    parts = []
    for c in columns:
        found = next(
            (figures[c.name.format(n=n)] for n in sizes if c.name.format(n=n) in figures), None
        )
        target = found["target"] if found else None
        if found is None:
            extra = ", not measured at any size"
        elif target is None:
            extra = ", no target"
        else:
            extra = f", target ≤ {_num(target)}"
        unit = c.unit
        parts.append(f"{c.title} ({unit}{extra})")
    return "| size | " + " | ".join(parts) + " |"


def table(
    figures: dict[str, dict[str, Any]],
    columns: tuple[Column, ...],
    sizes: tuple[int, ...],
    label: str,
) -> str:
    rows = [_header(figures, columns, sizes), "| ---: |" + " ---: |" * len(columns)]
    for n in sizes:
        cells = [cell(figures, c.name.format(n=n)) for c in columns]
        rows.append(f"| {n:,} {label} | " + " | ".join(cells) + " |")
    notes = "\n".join(f"- {c.title}: {c.counts} (`{c.name}`)." for c in columns)
    return "\n".join(rows) + "\n\nWhat each column counts:\n\n" + notes


def _series(
    figures: dict[str, dict[str, Any]], name: str, sizes: tuple[int, ...]
) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for n in sizes:
        f = figures.get(name.format(n=n))
        if f is not None and f["value"] is not None:
            xs.append(n)
            ys.append(float(f["value"]))
    return xs, ys


def plot(figures: dict[str, dict[str, Any]], out: Path) -> list[str]:
    """Draw the two plots into ``out``; the file names drawn (none without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(
            "[bench] growth: matplotlib missing (pip install -e '.[bench]'): no plots",
            file=sys.stderr,
        )
        return []
    out.mkdir(parents=True, exist_ok=True)
    drawn = []
    plots = (
        (
            "propagation.png",
            "Propagation time against network size",
            "nodes",
            "seconds until the alert is held",
            (
                (
                    "network.{n}.p99_median",
                    "99% of entitled nodes, median (simulated, 50-500 ms links)",
                ),
                ("network.{n}.all_max", "all entitled nodes, max (simulated)"),
                (
                    "network.{n}.reachable_p99_median",
                    "99% of the nodes the hop rule let it reach, median (simulated)",
                ),
                (
                    "network.{n}.reachable_all_max",
                    "all the nodes the hop rule let it reach, max (simulated)",
                ),
                ("propagation.{n}.max", "all nodes, max (real time, HTTPS, a process each)"),
                (
                    "propagation.{n}.one_process.max",
                    "all nodes, max (real time, HTTPS, all in one process)",
                ),
            ),
            (10, 30, 100, 300, 1000),
        ),
        (
            "check_latency.png",
            "Check latency against store size",
            "alerts in the store",
            "milliseconds",
            (
                ("check.{n}.p99", "check p99 (blinding + lookup)"),
                ("check.{n}.lookup_p99", "lookup p99"),
                ("pages.{n}.solo_p50", "alerts page p50, one member"),
            ),
            STORE_SIZES,
        ),
    )
    for filename, title, xlabel, ylabel, series, sizes in plots:
        fig, ax = plt.subplots(figsize=(7, 4.2), dpi=100)
        any_data = False
        for name, label in series:
            xs, ys = _series(figures, name, sizes)
            if xs:
                any_data = True
                ax.plot(xs, ys, marker="o", label=label)
        if not any_data:
            plt.close(fig)
            continue
        ax.set_xscale("log")
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / filename, metadata={"Software": None})
        plt.close(fig)
        drawn.append(filename)
    return drawn


def _maybe(value: float | None) -> str:
    return "not measured" if value is None else _num(value)


def machine_line(figures: dict[str, dict[str, Any]]) -> str:
    """What the run's ``machine.start`` and ``machine.end`` lines say (bench/machine.py):
    the processor, and its speed before the first benchmark and after the last."""
    start, end = figures.get("machine.start"), figures.get("machine.end")
    if start is None:
        return "The run did not record its machine."
    d = start["detail"]
    what = d.get("cpu") or "an unnamed processor"
    extra = [f"{d['cores']} cores"] if "cores" in d else []
    if "family" in d:
        extra.append(f"CPU family {d['family']}, model {d.get('model', '?')}")
    if d.get("flags"):
        extra.append(", ".join(d["flags"]))
    speeds = f"Ed25519 verifications/s {_maybe(start['value'])}"
    blinds = f"a blinding's user CPU {_maybe(d.get('blind_user_ms'))} ms"
    if end is not None:
        speeds += f" at the start, {_maybe(end['value'])} at the end"
        blinds += f" at the start, {_maybe(end['detail'].get('blind_user_ms'))} ms at the end"
    else:
        speeds += " at the start (no end recorded)"
    return f"Machine: {what} ({'; '.join(extra)}). {speeds}; {blinds}."


def section(
    figures: dict[str, dict[str, Any]], drawn: list[str], plots_rel: str, stamp: str
) -> str:
    parts = [
        START,
        "<!-- generated by `python -m bench.growth`; edits here are overwritten -->",
        "",
        f"From the run of {stamp}.",
        machine_line(figures),
        "",
        "### Cost against store size",
        "",
        table(figures, STORE_COLUMNS, STORE_SIZES, "alerts"),
        "",
        "### Propagation against network size (simulated, bench/network.py)",
        "",
        table(figures, NETWORK_COLUMNS, NETWORK_SIZES, "nodes"),
        "",
    ]
    for filename in PLOTS:
        if filename in drawn:
            parts.append(f"![{filename[:-4].replace('_', ' ')}]({plots_rel}/{filename})")
        else:
            parts.append(
                f"Plot {filename}: not drawn from this run (no figure for it, or "
                "matplotlib missing)."
            )
        parts.append("")
    parts.append(END)
    return "\n".join(parts)


def replace_section(doc: str, new: str) -> str:
    """``doc`` with the text between the markers (inclusive) replaced, or ``new``
    appended if the markers are missing."""
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    if pattern.search(doc):
        return pattern.sub(lambda _m: new, doc, count=1)
    return doc.rstrip("\n") + "\n\n" + new + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.growth", description=__doc__)
    parser.add_argument("results", type=Path, help="the JSON lines of a `python -m bench` run")
    parser.add_argument("--doc", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--plots", type=Path, default=Path("docs/bench"))
    parser.add_argument("--stamp", default="", help="when and where the run was made")
    args = parser.parse_args(argv)
    figures = load(args.results.read_text().splitlines())
    drawn = plot(figures, args.plots)
    try:
        rel = str(args.plots.resolve().relative_to(args.doc.resolve().parent))
    except ValueError:
        rel = str(args.plots)
    stamp = args.stamp or args.results.name
    text = replace_section(args.doc.read_text(), section(figures, drawn, rel, stamp))
    args.doc.write_text(text)
    print(
        f"[bench] growth: tables written to {args.doc}; plots: {', '.join(drawn) or 'none'}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
