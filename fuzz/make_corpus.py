"""Write the seed corpus in tests/fuzz/corpus/: valid inputs for every decoder, cut
and padded copies of them, and the edge cases of msgpack framing.

Run from the repository root when the wire format changes:

    .venv/bin/python -m fuzz.make_corpus

Everything is deterministic (fixed keys, the test vectors' NOW), so rerunning it
rewrites the same bytes. Inputs found by fuzzing are kept in the same folder under
names starting ``found-`` and are never rewritten by this script.
"""

from __future__ import annotations

import json
from pathlib import Path

import nacl.signing

from protocol import feed
from protocol.card import make_card
from protocol.request import sign_request
from protocol.rotation import sign_rotation

from .targets import DESTINATION, NOW, REQUEST_METHOD, REQUEST_PATH

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "fuzz" / "corpus"
VECTORS = ROOT / "tests" / "vectors" / "signed.json"

CALLER = nacl.signing.SigningKey(b"\x02" * 32)
NEW_KEY = nacl.signing.SigningKey(b"\x03" * 32)
EPOCH = b"\x05" * 16
ID = bytes(range(32))


def valid_inputs() -> dict[str, bytes]:
    vectors = json.loads(VECTORS.read_text())
    seeds: dict[str, bytes] = {}
    for i, alert in enumerate(vectors["alerts"]):
        seeds[f"alert-{i}"] = bytes.fromhex(alert["envelope_hex"])
    seeds["retraction"] = bytes.fromhex(vectors["retraction"]["envelope_hex"])
    card = make_card(CALLER, "Fuzz node", ("https://node.example:8443",), (b"\x07" * 32,), NOW)
    seeds["card"] = card.envelope.to_bytes()
    seeds["card-text"] = card.to_text().encode()
    seeds["rotation"] = sign_rotation(CALLER, NEW_KEY, NOW).envelope.to_bytes()
    body = feed.encode_changes_request(feed.ChangesRequest(0, 100, EPOCH))
    header = sign_request(
        CALLER, REQUEST_METHOD, REQUEST_PATH, body, DESTINATION, NOW, b"\x09" * 16
    )
    seeds["request"] = header.encode() + b"\n" + body
    entries = (feed.FeedEntry(7, "a", ID, 1), feed.FeedEntry(9, "r", ID[::-1], 0))
    seeds["changes-request"] = body
    seeds["changes-response"] = feed.encode_changes_response(
        feed.ChangesResponse(EPOCH, entries, 9, True)
    )
    seeds["bodies-request"] = feed.encode_bodies_request(feed.BodiesRequest((7, 9), (ID,), EPOCH))
    seeds["bodies-response"] = feed.encode_bodies_response(
        feed.BodiesResponse((seeds["alert-0"], seeds["retraction"]))
    )
    seeds["ids-request"] = feed.encode_ids_request(feed.IdsRequest(ID, 50))
    seeds["ids-response"] = feed.encode_ids_response(
        feed.IdsResponse(EPOCH, 9, (feed.IdEntry("a", ID, 2),), False)
    )
    seeds["poke"] = feed.encode_poke(feed.Poke(9))
    seeds["phone"] = b"+44 7700 900123"
    seeds["email"] = b"Client.Name@Example.ORG"
    seeds["handle"] = b"Instagram:@Some_Body"
    seeds["plate"] = b"ab12 cde"
    seeds["region"] = b"GB-LND"
    seeds["date"] = b"2024-12-30"
    seeds["url"] = b"http://" + b"a" * 56 + b".onion:80/fed"
    return seeds


def edge_cases() -> dict[str, bytes]:
    return {
        "deep-array": b"\x91" * 200 + b"\xc0",
        "deep-map": b"\x81\xa1k" * 100 + b"\xc0",
        "huge-map-length": b"\xdf\xff\xff\xff\xff",
        "huge-array-length": b"\xdd\xff\xff\xff\xff",
        "huge-str-length": b"\xdb\xff\xff\xff\xff",
        "huge-bin-length": b"\xc6\xff\xff\xff\xff",
        "ext-type": b"\xd4\x01\x00",
        "timestamp-ext": b"\xd6\xff\x00\x00\x00\x00",
        "float": b"\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00",
        "non-canonical-int": b"\xcc\x01",
        "unsorted-map": b"\x82\xa1b\x01\xa1a\x02",
        "duplicate-keys": b"\x82\xa1a\x01\xa1a\x02",
        "int-map-key": b"\x81\x01\x02",
        "invalid-utf8": b"\xa2\xff\xfe",
        "trailing-data": b"\xc0\xc0",
        "reserved-byte": b"\xc1",
        "empty": b"",
    }


def write() -> int:
    CORPUS.mkdir(parents=True, exist_ok=True)
    for old in CORPUS.iterdir():
        if not old.name.startswith("found-"):
            old.unlink()
    written = 0
    for name, data in valid_inputs().items():
        (CORPUS / name).write_bytes(data)
        (CORPUS / f"{name}.cut").write_bytes(data[: len(data) // 2])
        (CORPUS / f"{name}.short").write_bytes(data[:-1])
        (CORPUS / f"{name}.long").write_bytes(data + b"\x00")
        written += 4
    for name, data in edge_cases().items():
        (CORPUS / name).write_bytes(data)
        written += 1
    return written


if __name__ == "__main__":
    print(f"wrote {write()} files to {CORPUS}")
