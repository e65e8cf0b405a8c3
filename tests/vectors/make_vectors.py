"""Regenerate the golden vectors in this folder.

Run from the repository root, only when the wire format changes on purpose:

    .venv/bin/python -m tests.vectors.make_vectors

tests/protocol/test_vectors.py never calls this script: it recomputes every value from
the inputs stored in the JSON and compares byte for byte, so an accidental change to
the encoding, a domain tag or the blinding parameters fails a test instead of quietly
rewriting the expected bytes. Everything here is deterministic: fixed seeds, fixed
times, and Ed25519 signatures, which are deterministic by construction.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import nacl.public
import nacl.signing
import phonenumbers

from protocol.alert import AlertBody, Indicator, verify_alert
from protocol.encoding import pack
from protocol.errors import InvalidIndicator
from protocol.extensions import Extensions
from protocol.feed import ChangesRequest, encode_changes_request
from protocol.fields import INDICATOR_KINDS
from protocol.indicators import (
    BLINDED_BYTES,
    SUITES,
    NetworkKey,
    blind,
    blind_normalised,
    kind_salt,
    normalise,
    prehash,
)
from protocol.netkeys import PURPOSE, sign_statement, statement_plain, x25519_public
from protocol.normalise import REASONS, UNICODE_VERSION
from protocol.request import REQUEST_HEADER, RequestAuth, sign_request
from protocol.retraction import RetractionBody, verify_retraction
from protocol.signing import Kind, sign

from .normalisation_cases import CASES
from .object_vectors import (
    card_vectors,
    move_vectors,
    pairing_vectors,
    pins_vectors,
    rotation_vectors,
)

HERE = Path(__file__).parent
# signed.json's alerts and normalisation.json stay in suite 1, as first written: suite 1
# is still valid on the wire and matched, and indicators-suite2.json gives suite 2.
SIGNED_SUITE = 1
NORMALISATION_SUITE = 1

SEED = bytes(range(32))
# The destination of the signed-request vectors: Ed25519 from seed 0x20 .. 0x3f.
DEST_SEED = bytes(range(32, 64))
REQUEST_NONCE = bytes(range(16))
# The network blinding key of the vectors: bytes 0x40 .. 0x5f, epoch 0.
NETWORK_KEY = NetworkKey(bytes(range(0x40, 0x60)), 0)
CREATED = 1_735_693_200  # 2025-01-01T01:00:00Z
NOW = CREATED + 1800
EXPIRES = CREATED + 30 * 86400

INDICATOR_INPUTS: list[dict[str, str]] = [
    {"kind": "phone", "text": "07700 900123", "region": "GB"},
    {"kind": "phone", "text": "+44 7700 900123", "region": "GB"},
    {"kind": "phone", "text": "0044-7700-900-123", "region": "GB"},
    {"kind": "phone", "text": "+33 6 12 34 56 78", "region": "GB"},
    {"kind": "email", "text": "  Client.Name@Example.ORG ", "region": ""},
    {"kind": "handle", "text": "Instagram:@Some_Body", "region": ""},
    {"kind": "plate", "text": "ab12 cde", "region": ""},
    {"kind": "other", "text": "  Drives a  Red VAN ", "region": ""},
    # The edges section 6 spells out: an extension is dropped, letters are keypad
    # digits, lower-case and case-fold are Unicode's full mappings, NBSP is whitespace.
    {"kind": "phone", "text": "+44 7700 900123 ext. 5", "region": "GB"},
    {"kind": "phone", "text": "0800 FLOWERS", "region": "GB"},
    {"kind": "email", "text": "ÉMILE@Example.org", "region": ""},
    {"kind": "handle", "text": "Insta : @ŞEN", "region": ""},
    {"kind": "plate", "text": "ab\u00a012\u00b7cde", "region": ""},
    {"kind": "other", "text": "STRAẞE  Nord", "region": ""},
]


def indicator_vectors(suite: int) -> dict[str, Any]:
    opslimit, memlimit = SUITES[suite]
    cases = []
    for item in INDICATOR_INPUTS:
        normalised = normalise(item["kind"], item["text"], item["region"])
        cases.append(
            {
                **item,
                "normalised": normalised,
                "prehash": prehash(item["kind"], normalised, NETWORK_KEY).hex(),
                "blinded": blind(
                    item["kind"], item["text"], NETWORK_KEY, item["region"], suite
                ).hex(),
            }
        )
    return {
        "comment": (
            f"Indicator normalisation and keyed blinding (suite {suite}); see docs/protocol.md."
        ),
        "suite": suite,
        "network_key": {
            "secret_hex": NETWORK_KEY.secret.hex(),
            "epoch": NETWORK_KEY.epoch,
            "key_id_hex": NETWORK_KEY.key_id.hex(),
        },
        "argon2id": {
            "opslimit": opslimit,
            "memlimit_bytes": memlimit,
            "output_bytes": BLINDED_BYTES,
        },
        "salts": {kind: kind_salt(kind, NETWORK_KEY).hex() for kind in INDICATOR_KINDS},
        "cases": cases,
    }


def alert_inputs(full_id: bytes | None) -> list[dict[str, Any]]:
    full = {
        "name": "full",
        "created": CREATED,
        "expires": EXPIRES,
        "incident": "2024-12-30",
        "region": "GB-LND",
        "categories": ["violence", "robbery"],
        "danger": 3,
        "indicators": [
            {"kind": "phone", "text": "07700 900123", "region": "GB"},
            {"kind": "handle", "text": "Instagram:@Some_Body", "region": ""},
        ],
        "description": "Took the money back by force.\nDrives a red van. Café near the station.",
        "lang": "en",
        "translations": {
            "fr": "A repris l'argent de force.\nConduit une camionnette rouge.",
            "pt-BR": "Pegou o dinheiro de volta à força.",
        },
        "hops": 1,
        "tlp": "AMBER",
        "partner_checks": True,
        "supersedes": None,
        "nonce": bytes(range(0xA0, 0xB0)).hex(),
        # Extension values as their canonical msgpack bytes: "red" and [1, true].
        "ext": {"org.example:colour": pack("red").hex(), "org.example:list": pack((1, True)).hex()},
        "must_understand": [],
    }
    if full_id is None:
        return [full]
    superseding = {
        **full,
        "name": "superseding-red",
        "region": "FR-75",
        "categories": ["time-waster"],
        "danger": 1,
        "indicators": [],
        "description": "",
        "lang": "fr",
        "translations": {},
        "hops": 0,
        "tlp": "RED",
        "partner_checks": False,
        "supersedes": full_id.hex(),
        "nonce": bytes(range(0xB0, 0xC0)).hex(),
        "ext": {},
        "must_understand": [],
    }
    # An area warning (protocol/warning.py): no indicators, category other, the
    # must-understand extension org.alertnode:warning naming its kind, a week's expiry.
    warning = {
        **full,
        "name": "warning",
        "expires": CREATED + 7 * 86400,
        "region": "GB-MAN",
        "categories": ["other"],
        "danger": 2,
        "indicators": [],
        "description": "Police operation around the station tonight.",
        "lang": "en",
        "translations": {},
        "hops": 2,
        "tlp": "CLEAR",
        "partner_checks": False,
        "supersedes": None,
        "nonce": bytes(range(0xC0, 0xD0)).hex(),
        "ext": {"org.alertnode:warning": pack("police").hex()},
        "must_understand": ["org.alertnode:warning"],
    }
    return [full, superseding, warning]


def alert_body(key: nacl.signing.SigningKey, case: dict[str, Any]) -> AlertBody:
    indicators = tuple(
        Indicator(
            i["kind"],
            blind(i["kind"], i["text"], NETWORK_KEY, i["region"], SIGNED_SUITE),
            NETWORK_KEY.key_id,
            SIGNED_SUITE,
        )
        for i in case["indicators"]
    )
    return AlertBody(
        origin=bytes(key.verify_key),
        created=case["created"],
        expires=case["expires"],
        incident=case["incident"],
        region=case["region"],
        categories=tuple(case["categories"]),
        danger=case["danger"],
        indicators=indicators,
        description=case["description"],
        lang=case["lang"],
        hops=case["hops"],
        tlp=case["tlp"],
        supersedes=None if case["supersedes"] is None else bytes.fromhex(case["supersedes"]),
        nonce=bytes.fromhex(case["nonce"]),
        translations=tuple(sorted(case["translations"].items())),
        partner_checks=case["partner_checks"],
        ext=Extensions(
            tuple(sorted((k, bytes.fromhex(v)) for k, v in case["ext"].items())),
            tuple(case["must_understand"]),
        ),
    )


def expected(kind: Kind, body: bytes, key: nacl.signing.SigningKey) -> dict[str, str]:
    env = sign(kind, body, key)
    return {
        "body_hex": body.hex(),
        "envelope_hex": env.to_bytes().hex(),
        "id_hex": env.id.hex(),
        "sig_hex": env.sig.hex(),
    }


def signed_vectors() -> dict[str, Any]:
    key = nacl.signing.SigningKey(SEED)
    first = alert_body(key, alert_inputs(None)[0])
    full_id = sign(Kind.ALERT, first.to_bytes(), key).id
    alerts = []
    for case in alert_inputs(full_id):
        body = alert_body(key, case)
        for item, indicator in zip(case["indicators"], body.indicators, strict=True):
            item["suite"] = indicator.suite
            item["key_id"] = indicator.key_id.hex()
            item["blinded"] = indicator.blinded.hex()
        out = expected(Kind.ALERT, body.to_bytes(), key)
        verify_alert(bytes.fromhex(out["envelope_hex"]), NOW)
        alerts.append({"input": case, **out})
    retraction = RetractionBody(bytes(key.verify_key), full_id, "mistaken", CREATED, EXPIRES)
    out = expected(Kind.RETRACTION, retraction.to_bytes(), key)
    verify_retraction(bytes.fromhex(out["envelope_hex"]), NOW)
    return {
        "comment": (
            "Signed v2 alerts and a retraction; the key is Ed25519 from seed; indicators are"
            " blinded under the network key of indicators.json. Extension values (ext) are"
            " given as the hex of their canonical msgpack bytes."
        ),
        "seed_hex": SEED.hex(),
        "public_key_hex": bytes(key.verify_key).hex(),
        "now": NOW,
        "tags": {kind.value: kind.tag.decode() for kind in Kind},
        "alerts": alerts,
        "retraction": {
            "input": {
                "alert": full_id.hex(),
                "reason": retraction.reason,
                "created": retraction.created,
                "expires": retraction.expires,
            },
            **out,
        },
    }


REQUEST_CASES: list[dict[str, str]] = [
    # A changes request to a node whose card URL has no path.
    {"name": "changes", "method": "POST", "path": "/fed/v2/changes"},
    # The same body to a node whose card URL is https://host/alerts/ : the prefix and
    # the query are signed exactly as they appear on the request line.
    {"name": "prefixed", "method": "POST", "path": "/alerts/fed/v2/changes?since=120"},
]


def request_vectors() -> dict[str, Any]:
    key = nacl.signing.SigningKey(SEED)
    dest = bytes(nacl.signing.SigningKey(DEST_SEED).verify_key)
    body = encode_changes_request(ChangesRequest(120, 1000, bytes(range(16, 32))))
    cases = []
    for case in REQUEST_CASES:
        header = sign_request(key, case["method"], case["path"], body, dest, NOW, REQUEST_NONCE)
        auth = RequestAuth(
            case["method"],
            case["path"],
            hashlib.sha256(body).digest(),
            bytes(key.verify_key),
            dest,
            NOW,
            REQUEST_NONCE,
        )
        cases.append(
            {
                **case,
                "body_hex": body.hex(),
                "body_sha256_hex": auth.body_sha256.hex(),
                "message_hex": auth.to_bytes().hex(),
                "header": header,
            }
        )
    return {
        "comment": (
            "Signed requests (docs/protocol.md section 8): the signer is Ed25519 from"
            " seed_hex, the destination from dest_seed_hex; message_hex is the canonical"
            " msgpack map that is signed after the tag; header is the value of the"
            f" {REQUEST_HEADER} header."
        ),
        "seed_hex": SEED.hex(),
        "public_key_hex": bytes(key.verify_key).hex(),
        "dest_seed_hex": DEST_SEED.hex(),
        "dest_hex": dest.hex(),
        "tag": Kind.REQUEST.tag.decode(),
        "ts": NOW,
        "nonce_hex": REQUEST_NONCE.hex(),
        "cases": cases,
    }


# The sealed box's one-time X25519 key in the network-key vector (bytes 0x80 .. 0x9f).
EPHEMERAL_SECRET = bytes(range(0x80, 0xA0))


def sealed_box(message: bytes, recipient: nacl.public.PublicKey, ephemeral: bytes) -> bytes:
    """libsodium crypto_box_seal with a given one-time key, so the vector is fixed:
    epk || crypto_box(message, nonce = BLAKE2b-192(epk || pk), pk, esk)."""
    esk = nacl.public.PrivateKey(ephemeral)
    epk = bytes(esk.public_key)
    nonce = hashlib.blake2b(epk + bytes(recipient), digest_size=24).digest()
    return epk + nacl.public.Box(esk, recipient).encrypt(message, nonce).ciphertext


def netkeys_vectors() -> dict[str, Any]:
    sender = nacl.signing.SigningKey(SEED)
    recipient = nacl.signing.SigningKey(DEST_SEED)
    to = bytes(recipient.verify_key)
    keys = (NETWORK_KEY, NetworkKey(bytes(range(0x60, 0x80)), 1))
    plain = statement_plain(bytes(sender.verify_key), to, keys, NOW)
    inner = sign_statement(sender, to, keys, NOW)
    return {
        "comment": (
            "A network-key statement (docs/protocol.md section 6b) from the node of"
            " sender_seed_hex to the node of recipient_seed_hex: plain_hex is the signed"
            " map, inner_hex = Ed25519(sender, purpose || plain) || plain, and sealed_hex"
            " the crypto_box_seal of inner to the recipient's X25519 key made with the"
            " one-time key ephemeral_secret_hex (a node draws a fresh one each time)."
        ),
        "sender_seed_hex": SEED.hex(),
        "recipient_seed_hex": DEST_SEED.hex(),
        "purpose": PURPOSE.decode(),
        "created": NOW,
        "keys": [{"epoch": k.epoch, "secret_hex": k.secret.hex()} for k in keys],
        "plain_hex": plain.hex(),
        "inner_hex": inner.hex(),
        "ephemeral_secret_hex": EPHEMERAL_SECRET.hex(),
        "sealed_hex": sealed_box(inner, x25519_public(to), EPHEMERAL_SECRET).hex(),
    }


def normalisation_vectors() -> dict[str, Any]:
    blinded: dict[tuple[str, str], str] = {}
    cases: list[dict[str, Any]] = []
    for step, kind, text, region, note in CASES:
        case: dict[str, Any] = {
            "step": step, "kind": kind, "input": text, "region": region, "note": note
        }  # fmt: skip
        try:
            normalised = normalise(kind, text, region)
        except InvalidIndicator as exc:
            cases.append({**case, "refused": exc.reason})
            continue
        if (kind, normalised) not in blinded:
            blinded[(kind, normalised)] = blind_normalised(
                kind, normalised, NETWORK_KEY, NORMALISATION_SUITE
            ).hex()
        cases.append(
            {
                **case,
                "normalised": normalised,
                "prehash": prehash(kind, normalised, NETWORK_KEY).hex(),
                "blinded": blinded[(kind, normalised)],
            }
        )
    return {
        "comment": (
            "Indicator normalisation, one or more vectors for every step of"
            " docs/protocol.md section 6 ('Normalisation'): kind, input, default region,"
            " and either the normalised text with its keyed pre-hash and blinded value"
            " under network_key (suite 1, as indicators.json), or the refusal reason."
            " Strings are JSON with every non-ASCII code point escaped."
        ),
        "unicode_version": UNICODE_VERSION,
        "libphonenumber_metadata": phonenumbers.__version__,
        "suite": NORMALISATION_SUITE,
        "network_key": {
            "secret_hex": NETWORK_KEY.secret.hex(),
            "epoch": NETWORK_KEY.epoch,
            "key_id_hex": NETWORK_KEY.key_id.hex(),
        },
        "reasons": list(REASONS),
        "cases": cases,
    }


def write(name: str, value: dict[str, Any], *, ascii_only: bool = False) -> None:
    text = json.dumps(value, indent=2, ensure_ascii=ascii_only) + "\n"
    (HERE / name).write_text(text, encoding="utf-8")


def main() -> None:
    write("indicators.json", indicator_vectors(1))
    write("indicators-suite2.json", indicator_vectors(2))
    write("signed.json", signed_vectors())
    write("request.json", request_vectors())
    write("netkeys.json", netkeys_vectors())
    write("normalisation.json", normalisation_vectors(), ascii_only=True)
    write("cards.json", card_vectors())
    write("pairing.json", pairing_vectors())
    write("rotation.json", rotation_vectors())
    write("pins.json", pins_vectors())
    write("move.json", move_vectors())


if __name__ == "__main__":
    main()
