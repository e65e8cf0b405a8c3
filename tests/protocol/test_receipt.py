"""Receipts (protocol/receipt.py): the signed file and the short code, byte-exact with
the randomness injected; every changed byte fails."""

from __future__ import annotations

import pytest
from nacl.signing import SigningKey

from protocol import receipt as wire
from protocol.errors import BadSignature, MalformedObject, ProtocolError

SEED = bytes(range(32))
CODE_KEY = bytes(range(32, 64))
AT = 1_764_486_000 + 123  # a time inside a minute: receipts keep the minute
MINUTE = AT - AT % 60
CONTENT = {"categories": ["violence"], "danger": 3, "indicators": {"phone": "+447700900123"}}


def test_the_file_opens_with_its_minute_and_digest_and_its_tag_is_distinct() -> None:
    key = SigningKey(SEED)
    digest = wire.report_digest(CONTENT)
    signed = wire.make_receipt(key, digest, AT)
    opened = wire.open_receipt(signed)
    assert (opened.node, opened.at, opened.report) == (bytes(key.verify_key), MINUTE, digest)
    assert wire.make_receipt(key, digest, AT) == signed  # deterministic
    assert wire.RECEIPT_TAG == b"alertnode:v2:receipt:"
    # The digest is of the canonical bytes: key order does not matter, content does.
    assert wire.report_digest(dict(reversed(list(CONTENT.items())))) == digest
    assert wire.report_digest({**CONTENT, "danger": 2}) != digest


def test_every_changed_byte_of_a_file_fails() -> None:
    signed = wire.make_receipt(SigningKey(SEED), wire.report_digest(CONTENT), AT)
    for i in range(len(signed)):
        changed = bytearray(signed)
        changed[i] ^= 0x01
        with pytest.raises(ProtocolError):
            wire.open_receipt(bytes(changed))


def test_a_signature_made_for_another_kind_is_not_a_receipt() -> None:
    from protocol.encoding import pack
    from protocol.signing import Kind

    key = SigningKey(SEED)
    node = bytes(key.verify_key)
    body = pack({"v": 1, "node": node, "at": MINUTE, "report": b"\0" * 32})
    alert_sig = key.sign(Kind.ALERT.tag + body).signature
    with pytest.raises(BadSignature):
        wire.open_receipt(pack(("receipt", node, body, alert_sig)))


def test_the_code_reads_back_and_forgives_spacing_case_and_misread_letters() -> None:
    digest = wire.report_digest(CONTENT)
    code = wire.make_code(CODE_KEY, digest, AT)
    assert len(code.replace("-", "")) == wire.CODE_CHARS == 24
    found = wire.read_code(CODE_KEY, code)
    assert (found.at, found.report) == (MINUTE, digest[:2])
    assert wire.read_code(CODE_KEY, code.lower().replace("-", " ")).at == MINUTE
    misread = code.replace("O", "0").replace("I", "1").replace("B", "8")
    assert wire.read_code(CODE_KEY, misread).at == MINUTE


def test_every_changed_letter_of_a_code_fails_and_another_key_fails() -> None:
    code = wire.make_code(CODE_KEY, wire.report_digest(CONTENT), AT)
    letters = code.replace("-", "")
    for i, letter in enumerate(letters):
        for other in ("A", "Q", "7"):
            if other == letter:
                continue
            with pytest.raises(ProtocolError):
                wire.read_code(CODE_KEY, letters[:i] + other + letters[i + 1 :])
    with pytest.raises(BadSignature):
        wire.read_code(bytes(32), code)
    for bad in ("", "AAAA", "!" * 24, letters + "A"):
        with pytest.raises(MalformedObject):
            wire.read_code(CODE_KEY, bad)


def test_golden_receipt_and_code_recomputed_from_the_spec() -> None:
    """docs/protocol.md, "Receipts": seed 00 … 1f, code key 20 … 3f, CONTENT, AT."""
    import base64
    import hashlib
    import hmac

    from protocol.encoding import pack

    digest = wire.report_digest(CONTENT)
    assert digest.hex() == "e851db6bd6d76fdea5fe5a664ee8d289cb57036afc3985ec5489acc8735916de"
    key = SigningKey(SEED)
    node = bytes(key.verify_key)
    body = pack({"at": MINUTE, "node": node, "report": digest, "v": 1})
    sig = key.sign(b"alertnode:v2:receipt:" + body).signature
    signed = wire.make_receipt(key, digest, AT)
    assert signed == pack(("receipt", node, body, sig))
    assert (
        hashlib.sha256(signed).hexdigest()
        == "31710df314a9aa14c1ffaea4566da9e517573faa3817bfeb82c3964052e8cd90"
    )
    head = b"\x01" + (MINUTE // 60).to_bytes(4, "big") + digest[:2]
    mac = hmac.new(CODE_KEY, b"alertnode:v2:receipt-code:" + head, hashlib.sha256).digest()[:8]
    letters = base64.b32encode(head + mac).decode()
    code = wire.make_code(CODE_KEY, digest, AT)
    assert code == "-".join(letters[i : i + 4] for i in range(0, 24, 4))
    assert code == "AEA4-BO3G-5BIY-Y6ZL-II7X-AG5V"
