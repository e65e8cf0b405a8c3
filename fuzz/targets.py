"""Every protocol entry point that reads bytes or text from outside, as one table.

Rule: each target takes arbitrary bytes and must either return or raise a
``ProtocolError``; anything else escaping is a bug. The table is shared by the
Hypothesis fuzz tests (tests/fuzz/) and the atheris harness (fuzz/fuzz_decoders.py),
so both always cover the same decoders. Times and keys are fixed so that the signed
inputs in tests/fuzz/corpus/ stay valid (their "now" is the test vectors' NOW).
"""

from __future__ import annotations

from collections.abc import Callable

import nacl.signing

from protocol import feed
from protocol.alert import read_stored_alert, verify_alert
from protocol.card import b64url_decode, check_url, parse_card_text, verify_card
from protocol.encoding import unpack
from protocol.fields import check_lang, check_region, check_text, parse_date
from protocol.indicators import normalise
from protocol.receipt import open_receipt, read_code
from protocol.request import verify_request
from protocol.retraction import read_stored_retraction, verify_retraction
from protocol.rotation import verify_rotation
from protocol.signing import Kind, decode_body, open_envelope, parse_envelope

# The signed test vectors (tests/vectors/signed.json) are valid at this time.
NOW = 1_735_695_000
# The key the corpus's requests are addressed to (seed 0x01 * 32).
DESTINATION_KEY = nacl.signing.SigningKey(b"\x01" * 32)
DESTINATION = bytes(DESTINATION_KEY.verify_key)
REQUEST_METHOD = "POST"
REQUEST_PATH = "/fed/v2/changes"

Target = Callable[[bytes], object]


def _text(data: bytes) -> str:
    # Lone surrogates included: a str from elsewhere in the process may carry them.
    return data.decode("utf-8", "surrogateescape")


def _opened(kind: Kind) -> Target:
    def target(data: bytes) -> object:
        return decode_body(open_envelope(data, kind))

    return target


def _request_header(data: bytes) -> object:
    # The header text, then the body it claims to cover: the split point is the first
    # newline, so a corpus entry can carry a valid header and its body together.
    header, _, body = data.partition(b"\n")
    return verify_request(_text(header), REQUEST_METHOD, REQUEST_PATH, body, DESTINATION, NOW)


def _normalise(kind: str) -> Target:
    def target(data: bytes) -> object:
        return normalise(kind, _text(data), "GB")

    return target


TARGETS: dict[str, Target] = {
    "unpack": unpack,
    "parse_envelope": parse_envelope,
    **{f"open_envelope.{kind.value}": _opened(kind) for kind in Kind},
    "verify_alert": lambda d: verify_alert(d, NOW),
    "verify_retraction": lambda d: verify_retraction(d, NOW),
    "read_stored_alert": read_stored_alert,
    "read_stored_retraction": read_stored_retraction,
    "verify_card": lambda d: verify_card(d, NOW),
    "parse_card_text": lambda d: parse_card_text(_text(d), NOW),
    "verify_rotation": lambda d: verify_rotation(d, NOW),
    "verify_request": _request_header,
    "decode_changes_request": feed.decode_changes_request,
    "decode_changes_response": feed.decode_changes_response,
    "decode_bodies_request": feed.decode_bodies_request,
    "decode_bodies_response": feed.decode_bodies_response,
    "decode_ids_request": feed.decode_ids_request,
    "decode_ids_response": feed.decode_ids_response,
    "decode_poke": feed.decode_poke,
    "b64url_decode": lambda d: b64url_decode(_text(d), "input"),
    "check_url": lambda d: check_url("url", _text(d)),
    "check_region": lambda d: check_region("region", _text(d)),
    "check_lang": lambda d: check_lang("lang", _text(d)),
    "parse_date": lambda d: parse_date("incident", _text(d)),
    "check_text": lambda d: check_text("description", _text(d)),
    **{f"normalise.{kind}": _normalise(kind) for kind in ("phone", "email", "handle", "plate")},
    "normalise.other": _normalise("other"),
    "open_receipt": open_receipt,
    "read_code": lambda d: read_code(b"\x02" * 32, _text(d)),
}
