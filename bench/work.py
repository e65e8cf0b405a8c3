"""The log-in proof of work: how long a solution takes, in Python and in a browser.

``python -m bench.work [--quick] [--bits N]``. Solves the same challenges with the
reference solver (node/web/work.py, hashlib) and with the page's own script
(node/static/pow.js) in Debian's Chromium through playwright, then again with
Chromium's CPU slowed 6x (the DevTools "low-end mobile" setting), which stands in for
a cheap phone. Prints one JSON line per figure; the browser figures are null (with
the reason) where Chromium or playwright is missing. Both solvers must find the same
counter for every challenge, or this fails: the figures are only worth anything if
the script computes exactly what the server checks.

Not part of ``python -m bench``: it needs a browser.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from node.settings import BY_NAME
from node.web.work import Challenges, solve

from .report import emit, note

CHROMIUM = Path("/usr/bin/chromium")
POW_JS = Path(__file__).resolve().parent.parent / "node" / "static" / "pow.js"
# A cheap phone's JavaScript is several times slower than a desktop's; Chrome's
# DevTools call a 6x slowdown "low-end mobile".
PHONE_SLOWDOWN = 6
TARGET_PHONE_S = 1.0
NOW = 1_790_000_000
DEFAULT_BITS = int(BY_NAME["login_work_bits"].default)


def _challenges(count: int, bits: int) -> list[str]:
    issuer = Challenges(key=b"\x01" * 32)
    return [issuer.issue("login", bits, NOW) for _ in range(count)]


def _python(challenges: list[str]) -> tuple[list[int], list[float]]:
    counters, seconds = [], []
    for challenge in challenges:
        t0 = time.perf_counter()
        counters.append(solve(challenge))
        seconds.append(time.perf_counter() - t0)
    return counters, seconds


def _browser(challenges: list[str], slowdown: int) -> tuple[list[int], list[float]] | str:
    """Counters and seconds per challenge in Chromium, or why it could not run."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "playwright is not installed"
    counters, seconds = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            page.set_content("<!doctype html><title>work</title>")
            page.add_script_tag(content=POW_JS.read_text(encoding="utf-8"))
            if slowdown > 1:
                cdp = page.context.new_cdp_session(page)
                cdp.send("Emulation.setCPUThrottlingRate", {"rate": slowdown})
            for challenge in challenges:
                counter, ms = page.evaluate(
                    """(c) => new Promise((done) => {
                         const t0 = performance.now();
                         window.alertnodePow.solve(c, (n) => done([n, performance.now() - t0]));
                       })""",
                    challenge,
                )
                counters.append(int(counter))
                seconds.append(float(ms) / 1000)
        finally:
            browser.close()
    return counters, seconds


def _figures(prefix: str, counters: list[int], seconds: list[float], **kw: Any) -> None:
    tries = sum(c + 1 for c in counters)
    emit(f"{prefix}.solve_mean_s", statistics.fmean(seconds), "s", **kw)
    emit(f"{prefix}.solve_p95_s", sorted(seconds)[int(0.95 * (len(seconds) - 1))], "s")
    emit(f"{prefix}.hashes_per_s", tries / sum(seconds), "hashes/s")


def run(quick: bool, bits: int = DEFAULT_BITS) -> None:
    count = 16 if quick else 64
    challenges = _challenges(count, bits)
    note(f"work: {count} challenges at {bits} bits")
    expected, seconds = _python(challenges)
    _figures("work.python", expected, seconds, detail={"bits": bits, "challenges": count})
    for slowdown, prefix in ((1, "work.chromium"), (PHONE_SLOWDOWN, "work.chromium_6x")):
        result = _browser(challenges, slowdown)
        target = TARGET_PHONE_S if slowdown > 1 else None
        if isinstance(result, str):
            emit(f"{prefix}.solve_mean_s", None, "s", target=target, detail={"why": result})
            continue
        counters, seconds = result
        if counters != expected:
            raise SystemExit("pow.js found other counters than node/web/work.py")
        detail = {"bits": bits, "challenges": count, "cpu_slowdown": slowdown}
        _figures(prefix, counters, seconds, target=target, detail=detail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.work", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="16 challenges instead of 64")
    parser.add_argument("--bits", type=int, default=DEFAULT_BITS, help="difficulty")
    args = parser.parse_args(argv)
    run(args.quick, args.bits)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
