"""``python -m bench [--quick] [--only NAME] [--profile FILE]``: run the benchmarks.

Every figure is one JSON line on stdout (bench.report); progress goes to stderr.
The first line and the last say what machine the run was on and how fast it was then
(bench.machine).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
import time
from pathlib import Path

from .report import note

ORDER = (
    "ingest",
    "catchup",
    "busy",
    "propagation",
    "network",
    "idle_sync",
    "baseline",
    "guess",
    "check",
    "pages",
    "footprint",
)


async def _main(args: argparse.Namespace) -> int:
    names = [args.only] if args.only else list(ORDER)
    from . import data, machine

    try:
        machine.report("start")
        for name in names:
            module = importlib.import_module(f"bench.{name}")
            t0 = time.perf_counter()
            if name == "ingest":
                await module.run(args.quick, args.profile)
            else:
                await module.run(args.quick)
            note(f"{name}: done in {time.perf_counter() - t0:.1f} s")
        machine.report("end")
    finally:
        data.cleanup()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes only (< 1 minute)")
    parser.add_argument("--only", choices=ORDER, help="run one benchmark")
    parser.add_argument("--profile", type=Path, help="write the ingest profile to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    return asyncio.run(_main(args))


if __name__ == "__main__":
    raise SystemExit(main())
