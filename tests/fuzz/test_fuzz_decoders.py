"""Fuzzing every protocol decoder: whatever arrives, only ProtocolError comes out.

tests/protocol/ already feeds arbitrary bytes, arbitrary msgpack and one arbitrary
field per body to the alert, card, request, rotation and feed decoders. This file adds
what those leave out: mutations of valid inputs (the corpus in tests/fuzz/corpus/, the
same seeds the atheris harness starts from), whole bodies of arbitrary fields for every
signed kind, the readers of stored envelopes, the field checkers and indicator
normalisation on arbitrary text, and a replay of every corpus file through every
target (so an input atheris once found stays a regression test).
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Any

import msgpack
import nacl.signing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.targets import NOW, TARGETS
from protocol.card import b64url_decode, check_url, parse_card_text
from protocol.encoding import pack
from protocol.errors import ProtocolError
from protocol.fields import INDICATOR_KINDS, check_lang, check_region, check_text, parse_date
from protocol.indicators import normalise
from protocol.request import NonceWindow
from protocol.signing import Kind, sign

CORPUS = Path(__file__).parent / "corpus"
SEEDS = sorted((p.name, p.read_bytes()) for p in CORPUS.iterdir())
SIGNER = nacl.signing.SigningKey(b"\x02" * 32)

FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
SOME = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def only_protocol_errors(data: bytes) -> int:
    """Run ``data`` through every target; returns how many accepted it."""
    accepted = 0
    for name, target in TARGETS.items():
        try:
            target(data)
        except ProtocolError:
            continue
        except Exception as exc:
            raise AssertionError(f"{name} raised {type(exc).__name__} on {data!r}") from exc
        accepted += 1
    return accepted


# --- the corpus --------------------------------------------------------------------


def test_every_corpus_file_raises_only_protocol_errors() -> None:
    assert len(SEEDS) >= 50
    accepted = {name: only_protocol_errors(data) for name, data in SEEDS}
    # The valid seeds really are valid (so mutations start from deep inside the decoders).
    # ("request" is left out: its header format may change under the corpus; rerun
    # fuzz/make_corpus.py when it does.)
    for name in ("alert-0", "retraction", "card", "rotation", "changes-response"):
        assert accepted[name] >= 1, name


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A corpus file with a few byte-level changes, as a fuzzer would make them."""
    _, seed = draw(st.sampled_from(SEEDS))
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(("flip", "set", "insert", "delete", "cut", "splice", "length")))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[at] = draw(st.sampled_from((0x00, 0x7F, 0x80, 0xC0, 0xC1, 0xDC, 0xDF, 0xFF)))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif op == "cut":
            del data[at:]
        elif op == "splice":
            _, other = draw(st.sampled_from(SEEDS))
            data[at:] = other[draw(st.integers(0, len(other))) :]
        elif op == "length":
            # A msgpack length prefix that promises far more than follows.
            data[at:at] = draw(st.sampled_from((b"\xdd\xff\xff\xff\xff", b"\xc5\xff\xff")))
    return bytes(data)


@FUZZ
@given(mutated())
def test_mutated_corpus_inputs_raise_only_protocol_errors(data: bytes) -> None:
    only_protocol_errors(data)


# --- whole bodies of arbitrary fields, correctly signed ------------------------------

FIELDS = {
    Kind.ALERT: [
        "v",
        "origin",
        "created",
        "expires",
        "incident",
        "region",
        "categories",
        "danger",
        "indicators",
        "description",
        "lang",
        "hops",
        "tlp",
        "supersedes",
    ],
    Kind.RETRACTION: ["v", "origin", "alert", "reason", "created", "expires"],
    Kind.CARD: ["v", "name", "key", "urls", "tls", "created", "expires"],
    Kind.ROTATION: ["v", "old", "new", "created", "proof"],
    Kind.REQUEST: ["v", "method", "path", "body", "origin", "dest", "ts", "nonce"],
}
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.sampled_from((NOW, NOW - NOW % 3600, 1, 3, 32, 2**37))
    | st.text(max_size=30)
    | st.sampled_from(("violence", "GB-LND", "en", "RED", "phone", "2024-12-30", "POST"))
    | st.binary(max_size=70)
    | st.binary(min_size=32, max_size=32)
    | st.just(bytes(SIGNER.verify_key)),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=15,
)


@FUZZ
@given(st.sampled_from(sorted(FIELDS, key=lambda k: k.value)), st.data())
def test_signed_bodies_of_arbitrary_fields_raise_only_protocol_errors(
    kind: Kind, data: Any
) -> None:
    names = data.draw(st.lists(st.sampled_from(FIELDS[kind]), unique=True), label="fields")
    extra = data.draw(st.dictionaries(st.text(max_size=6), values, max_size=2), label="extra")
    body = {name: data.draw(values, label=name) for name in names} | extra
    canonical = data.draw(st.booleans(), label="canonical")
    try:
        raw = pack(body) if canonical else msgpack.packb(body, use_bin_type=True)
    except (TypeError, ValueError, OverflowError):
        return  # not representable in msgpack at all
    envelope = sign(kind, raw, SIGNER).to_bytes()
    only_protocol_errors(envelope)


# --- text checkers and indicator normalisation ---------------------------------------

TEXT_CHECKS = {
    "check_region": lambda t: check_region("region", t),
    "check_lang": lambda t: check_lang("lang", t),
    "parse_date": lambda t: parse_date("incident", t),
    "check_text": lambda t: check_text("description", t),
    "check_url": lambda t: check_url("url", t),
    "b64url_decode": lambda t: b64url_decode(t, "input"),
    "parse_card_text": lambda t: parse_card_text(t, NOW),
    **{kind: functools.partial(normalise, kind, default_region="GB") for kind in INDICATOR_KINDS},
}
# Any code point, lone surrogates included (a JSON request can carry "\ud800").
awkward_text = st.text(
    st.characters(codec=None, categories=None)
    | st.sampled_from("+@:-. \u200b\ufeff\u0660\ud800\udfff\U0001d7ce"),
    max_size=80,
)


@FUZZ
@given(st.sampled_from(sorted(TEXT_CHECKS)), awkward_text)
def test_text_checkers_raise_only_protocol_errors(name: str, text: str) -> None:
    with contextlib.suppress(ProtocolError):
        TEXT_CHECKS[name](text)


@SOME
@given(
    st.sampled_from(("phone", "email", "handle", "plate", "other", "dna", "")),
    awkward_text,
    st.sampled_from(("GB", "", "gb", "ZZ", "XK", "001", "+")),
)
def test_normalise_any_kind_text_and_region(kind: str, text: str, region: str) -> None:
    try:
        normal = normalise(kind, text, region)
    except ProtocolError:
        return  # only the first normalisation may refuse its input
    # Normal forms are fixed points: normalising one again is never refused and
    # changes nothing.
    assert normalise(kind, normal, region) == normal


# --- the nonce window never raises and never forgets a live replay -------------------


@SOME
@given(
    st.lists(
        st.tuples(st.binary(max_size=2), st.integers(-90, 90), st.integers(0, 40)),
        max_size=80,
    ),
    st.integers(0, 2**40),
)
def test_nonce_window_under_arbitrary_requests(
    requests: list[tuple[bytes, int, int]], start: int
) -> None:
    """A request accepted once is refused whenever it comes again while its timestamp
    is acceptable, however the others were dated; the window never holds more than
    its size, nor an entry past a window from when it came."""
    window = NonceWindow(max_nonces=8, skew_s=60)
    accepted: set[tuple[bytes, int]] = set()
    now = start
    for nonce, offset, step in requests:
        now += step
        timestamp = now + offset
        if not window.seen(nonce, timestamp, now):
            assert (nonce, timestamp) not in accepted or abs(timestamp - now) > 60
            accepted.add((nonce, timestamp))
        for old, ts in accepted:
            if abs(ts - now) <= 60:
                assert window.seen(old, ts, now)
        assert len(window) <= 8
        assert all(until <= now + 60 for until, _, _ in window._by_until)
