"""The vectors' comments point at sections of docs/protocol.md that exist (a second
implementer follows them): "section N" names a numbered heading, a quoted name a
heading of that name."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_section_a_vector_cites_exists() -> None:
    headings = [
        line.lstrip("#").strip()
        for line in (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    ]
    numbers = {h.split(".")[0] for h in headings if re.match(r"\d+[a-z]?\.", h)}
    cited = 0
    for path in sorted((ROOT / "tests" / "vectors").glob("*.json")):
        comment = str(json.loads(path.read_text(encoding="utf-8")).get("comment", ""))
        for number in re.findall(r"protocol\.md section (\d+[a-z]?)\b", comment):
            assert number in numbers, f"{path.name} cites section {number}"
            cited += 1
        for name in re.findall(r"protocol\.md(?:, | section \w+ \()'([^']+)'", comment):
            assert name in headings, f"{path.name} cites '{name}'"
            cited += 1
    assert cited >= 9  # the check found the citations it is meant to check
