"""The benchmarks keep working: ``python -m bench --quick`` prints well-formed figures.

Only the shape is asserted (every line is a JSON object with the required keys and
types); never a time or a size, which depend on the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report import REQUIRED_KEYS

ROOT = Path(__file__).resolve().parent.parent
EXPECTED_PREFIXES = (
    "ingest.",
    "catchup.",
    "propagation.",
    "idle_sync.",
    "baseline.",
    "check.",
    "footprint.",
)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_quick_bench_prints_one_well_formed_figure_per_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=230,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert lines
    names = []
    for line in lines:
        figure = json.loads(line)
        assert isinstance(figure, dict)
        assert set(REQUIRED_KEYS) <= set(figure)
        assert isinstance(figure["name"], str) and figure["name"]
        assert isinstance(figure["value"], int | float) and not isinstance(figure["value"], bool)
        assert isinstance(figure["unit"], str) and figure["unit"]
        assert figure["target"] is None or isinstance(figure["target"], int | float)
        assert figure["met"] in (True, False, None)
        assert (figure["met"] is None) == (figure["target"] is None)
        assert isinstance(figure["detail"], dict)
        names.append(figure["name"])
    assert len(set(names)) == len(names)
    for prefix in EXPECTED_PREFIXES:
        assert any(name.startswith(prefix) for name in names), prefix
