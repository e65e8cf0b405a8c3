"""Normalisation golden vectors (tests/vectors/normalisation.json) and the data the
rules pin: every vector recomputed, every step of the spec covered, every reason code
used, and the tables in protocol/normalise.py checked against the Unicode data.

A failure here means the canonical text of some indicator changed, which changes its
blinded value: a new blinding suite (docs/protocol.md section 5a), never a quiet fix.
"""

from __future__ import annotations

import functools
import json
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.errors import InvalidIndicator
from protocol.indicators import NetworkKey, blind_normalised, normalise, prehash
from protocol.normalise import (
    DEFAULT_IGNORABLE,
    REASONS,
    UNICODE_VERSION,
    WHITESPACE,
    is_default_ignorable,
)

ROOT = Path(__file__).parents[2]
RAW = (ROOT / "tests" / "vectors" / "normalisation.json").read_text(encoding="utf-8")
VECTORS: dict[str, Any] = json.loads(RAW)
CASES: list[dict[str, Any]] = VECTORS["cases"]
KEY = NetworkKey(
    bytes.fromhex(VECTORS["network_key"]["secret_hex"]), VECTORS["network_key"]["epoch"]
)
SPEC = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
# A step of section 6 is written "**P4.**" at the start of its line.
STEP_RE = re.compile(r"^\*\*([A-Z][0-9])\.\*\*", re.MULTILINE)


def case_id(case: dict[str, Any]) -> str:
    text = case["input"]
    return f"{case['step']}-{case['kind']}-{text if len(text) < 40 else text[:40]!a}"


@functools.cache
def blinded(kind: str, normalised: str) -> str:
    # One Argon2id per distinct canonical text: many vectors share one.
    return blind_normalised(kind, normalised, KEY, VECTORS["suite"]).hex()


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_every_normalisation_vector(case: dict[str, Any]) -> None:
    if "refused" in case:
        with pytest.raises(InvalidIndicator) as info:
            normalise(case["kind"], case["input"], case["region"])
        assert info.value.reason == case["refused"]
        assert case["refused"] in REASONS
        return
    normalised = normalise(case["kind"], case["input"], case["region"])
    assert normalised == case["normalised"]
    assert prehash(case["kind"], normalised, KEY).hex() == case["prehash"]
    assert blinded(case["kind"], normalised) == case["blinded"]


def test_the_vectors_use_the_key_and_data_the_spec_pins() -> None:
    assert KEY.key_id.hex() == VECTORS["network_key"]["key_id_hex"]
    assert VECTORS["suite"] == 1
    assert VECTORS["unicode_version"] == UNICODE_VERSION
    assert VECTORS["libphonenumber_metadata"] == phonenumbers.__version__
    assert f"Unicode {UNICODE_VERSION.removesuffix('.0')}" in SPEC
    assert f"libphonenumber metadata {phonenumbers.__version__}" in SPEC


def test_this_python_has_the_pinned_unicode_data() -> None:
    """Normalisation results are pinned to Unicode 14.0: a Python with other data
    would accept code points 14.0 leaves unassigned (docs/protocol.md section 6)."""
    assert unicodedata.unidata_version == UNICODE_VERSION, sys.version


def test_the_file_is_ascii_so_any_language_reads_it() -> None:
    assert RAW.isascii()


def test_every_step_of_the_spec_has_a_vector_and_every_vector_a_step() -> None:
    steps = set(STEP_RE.findall(SPEC))
    assert len(steps) >= 25, sorted(steps)
    assert {case["step"] for case in CASES} == steps


def test_every_reason_code_is_used_and_documented() -> None:
    used = {case["refused"] for case in CASES if "refused" in case}
    assert used == set(REASONS) == set(VECTORS["reasons"])
    for reason in REASONS:
        assert f"`{reason}`" in SPEC, reason


def test_a_surrogate_is_refused() -> None:
    """A lone surrogate cannot travel in UTF-8 (nor in the JSON vectors), but a Python
    string (a command-line argument read with surrogateescape) can hold one."""
    for kind, text in (("other", "abc\udcff"), ("email", "\udcff@example.org")):
        with pytest.raises(InvalidIndicator) as info:
            normalise(kind, text)
        assert info.value.reason == "bad_character"


def test_whitespace_is_the_set_the_spec_lists() -> None:
    assert {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()} == WHITESPACE
    assert "\u200b" not in WHITESPACE and "\u00a0" in WHITESPACE and "\x1f" in WHITESPACE


# Default_Ignorable_Code_Point, derived as UAX #44 defines it, from this Python's data:
# Other_Default_Ignorable_Code_Point + Cf + Variation_Selector - White_Space
# - FFF9..FFFB - 13430..13438 - Prepended_Concatenation_Mark (Unicode 14.0 lists).
_ODI = {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2065, 0x3164, 0xFFA0,
        *range(0xFFF0, 0xFFF9), 0xE0000, *range(0xE0002, 0xE0020), *range(0xE0080, 0xE0100),
        *range(0xE01F0, 0xE1000)}  # fmt: skip
_VS = {*range(0x180B, 0x180E), 0x180F, *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)}
_NOT_DI = {*range(0xFFF9, 0xFFFC), *range(0x13430, 0x13439), *range(0x0600, 0x0606), 0x06DD,
           0x070F, 0x0890, 0x0891, 0x08E2, 0x110BD, 0x110CD}  # fmt: skip


def test_the_default_ignorable_table_is_unicode_14s() -> None:
    for cp in range(sys.maxunicode + 1):
        cf = unicodedata.category(chr(cp)) == "Cf" and chr(cp) not in WHITESPACE
        derived = (cf and cp not in _NOT_DI) or cp in _ODI or cp in _VS
        assert is_default_ignorable(cp) == derived, hex(cp)
    # The spec lists the same ranges.
    for lo, hi in DEFAULT_IGNORABLE:
        written = f"U+{lo:04X}" if lo == hi else f"U+{lo:04X}\u2013U+{hi:04X}"
        assert written in SPEC, written


_PIECES = st.sampled_from(
    [*"0123456789+-.() xX#;:,@aegltz", "\u200b", "\u0130", "\u0131", "\u00df", "\u0660",
     "\uff10", "\u2013", "xn--", "ext", "tel:", "mailto:", "\udcff", "\x00", "\u0378"]
)  # fmt: skip
_TEXT = st.one_of(st.text(max_size=60), st.lists(_PIECES, max_size=24).map("".join))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["phone", "email", "handle", "plate", "other"]), _TEXT)
def test_normalisation_refuses_with_a_reason_or_gives_a_fixed_point(kind: str, text: str) -> None:
    """Any text either is refused with a documented reason, or gives a canonical text
    that is valid UTF-8 and normalises to itself."""
    try:
        out = normalise(kind, text, "GB")
    except InvalidIndicator as exc:
        assert exc.reason in REASONS
        return
    out.encode()
    assert normalise(kind, out, "GB") == out
