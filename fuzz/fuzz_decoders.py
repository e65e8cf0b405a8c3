"""atheris (libFuzzer) harness over every protocol decoder, for runs longer than CI's.

Rule: every input goes to every target in fuzz/targets.py (the same table the
Hypothesis fuzz tests use); a ``ProtocolError`` is the expected refusal, anything else
escaping is a crash that libFuzzer saves. Run it through ``make fuzz``, or by hand:

    .venv/bin/pip install atheris
    .venv/bin/python fuzz/fuzz_decoders.py WORK_DIR tests/fuzz/corpus -max_total_time=300

WORK_DIR receives the new inputs libFuzzer finds interesting; tests/fuzz/corpus/ holds
the seeds (``python -m fuzz.make_corpus``) and any crash worth keeping, named
``found-*``, which tests/fuzz/test_fuzz_decoders.py replays on every test run.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports(include=["protocol", "fuzz"]):
    from fuzz.targets import TARGETS
    from protocol.errors import ProtocolError

_TARGETS = tuple(TARGETS.values())


def test_one_input(data: bytes) -> None:
    for target in _TARGETS:
        with contextlib.suppress(ProtocolError):
            target(data)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
