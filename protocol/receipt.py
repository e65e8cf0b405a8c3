"""Receipts: a node's word that it received a report at a given minute.

Rule: a receipt names only the node's key, a minute and the SHA-256 of the report's
canonical bytes; it is made when the report arrives, handed to the member and kept
by no one else. It never travels between nodes, so its kind is not one of the
envelope kinds a peer may send (``signing.Kind``), yet it is signed the same way,
under its own domain tag:

    file  = msgpack ["receipt", node_key(32), body(bin), sig(64)]
    body  = canonical msgpack {"v": 1, "node": node_key, "at": minute, "report": sha256}
    sig   = Ed25519(node, "alertnode:v2:receipt:" || body)

Anyone holding the node's card (its key) checks a file. The short code is for a
member who would rather write a receipt down than keep a file; only the node that
made it can check it:

    code  = base32 (RFC 4648, no padding) of 15 bytes, shown in groups of four
          = version(1) = 1 || minute number (4, big-endian; Unix time // 60)
            || check(2) = the report hash's first two bytes
            || mac(8)   = HMAC-SHA256(code key,
                                      "alertnode:v2:receipt-code:" || the 7 bytes before)[:8]

The check bytes only make two reports' codes differ; a code proves when, not what.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing

from .encoding import Value, pack, unpack
from .errors import BadSignature, LimitExceeded, MalformedObject
from .limits import Limits
from .signing import KEY_BYTES, SIG_BYTES, TAG_PREFIX

RECEIPT_TAG = TAG_PREFIX + b"receipt:"
CODE_TAG = TAG_PREFIX + b"receipt-code:"
RECEIPT_KIND = "receipt"
RECEIPT_VERSION = 1
CODE_VERSION = 1
DIGEST_BYTES = 32
CODE_BYTES = 15
CODE_CHECK_BYTES = 2
CODE_MAC_BYTES = 8
CODE_CHARS = 24
CODE_KEY_BYTES = 32
# A receipt file is about 200 bytes; nothing larger is read.
MAX_RECEIPT_BYTES = 512
MAX_MINUTE = 2**32 - 1
_LIMITS = Limits(
    envelope_bytes=MAX_RECEIPT_BYTES,
    body_bytes=MAX_RECEIPT_BYTES,
    str_bytes=16,
    bin_bytes=MAX_RECEIPT_BYTES,
    array_len=4,
    map_len=4,
    depth=1,
)
# Letters people misread when they copy a code by hand (RFC 4648 has no 0, 1 or 8).
_MISREAD = str.maketrans({"0": "O", "1": "I", "8": "B"})
_CODE_SPACING = re.compile(r"[\s\-]+")


@dataclass(frozen=True, slots=True)
class Receipt:
    """A receipt whose signature was checked (by ``open_receipt``) or whose code's MAC
    was checked (by ``read_code``; then ``node`` is empty and ``report`` holds only
    the check bytes)."""

    node: bytes
    at: int  # Unix time, a whole minute
    report: bytes


def report_digest(content: Mapping[str, Value]) -> bytes:
    """SHA-256 of a report's canonical bytes: its fields as canonical msgpack."""
    return hashlib.sha256(pack(dict(content))).digest()


def _minute(at: int) -> int:
    if not 0 <= at // 60 <= MAX_MINUTE:
        raise MalformedObject("a receipt's time is out of range")
    return at - at % 60


def make_receipt(signing_key: nacl.signing.SigningKey, report: bytes, at: int) -> bytes:
    """The signed receipt file's bytes for ``report`` (a digest) received at ``at``
    (coarsened to its minute). Raises MalformedObject."""
    if len(report) != DIGEST_BYTES:
        raise MalformedObject("a receipt names a 32-byte report digest")
    node = bytes(signing_key.verify_key)
    body = pack({"v": RECEIPT_VERSION, "node": node, "at": _minute(at), "report": report})
    sig = signing_key.sign(RECEIPT_TAG + body).signature
    return pack((RECEIPT_KIND, node, body, sig))


def open_receipt(data: bytes) -> Receipt:
    """Check a receipt file's framing and signature, then its body.

    The caller decides whether ``Receipt.node`` is a key it trusts. Raises
    LimitExceeded, MalformedObject or BadSignature.
    """
    if len(data) > MAX_RECEIPT_BYTES:
        raise LimitExceeded("a receipt is longer than any this protocol makes")
    value = unpack(data, _LIMITS, max_bytes=MAX_RECEIPT_BYTES)
    if not isinstance(value, tuple) or len(value) != 4 or value[0] != RECEIPT_KIND:
        raise MalformedObject("not a receipt")
    _, node, body, sig = value
    if not (isinstance(node, bytes) and len(node) == KEY_BYTES):
        raise MalformedObject("a receipt's signer key must be 32 bytes")
    if not (isinstance(body, bytes) and isinstance(sig, bytes) and len(sig) == SIG_BYTES):
        raise MalformedObject("a receipt's body or signature is malformed")
    try:
        nacl.signing.VerifyKey(node).verify(RECEIPT_TAG + body, sig)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError):
        raise BadSignature("the receipt's signature does not verify") from None
    fields = unpack(body, _LIMITS, max_bytes=MAX_RECEIPT_BYTES)
    if not isinstance(fields, dict) or set(fields) != {"v", "node", "at", "report"}:
        raise MalformedObject("a receipt body holds exactly v, node, at and report")
    at, report = fields["at"], fields["report"]
    if fields["v"] != RECEIPT_VERSION:
        raise MalformedObject("unknown receipt version")
    if fields["node"] != node:
        raise MalformedObject("the receipt's body names another key than its signer")
    if not (isinstance(at, int) and not isinstance(at, bool) and at == _minute(at)):
        raise MalformedObject("a receipt's time is a whole minute")
    if not (isinstance(report, bytes) and len(report) == DIGEST_BYTES):
        raise MalformedObject("a receipt names a 32-byte report digest")
    return Receipt(node, at, report)


def _code_mac(key: bytes, head: bytes) -> bytes:
    return hmac.new(key, CODE_TAG + head, hashlib.sha256).digest()[:CODE_MAC_BYTES]


def make_code(key: bytes, report: bytes, at: int) -> str:
    """The short code for ``report`` (a digest) received at ``at``, in groups of four
    (``ABCD-EFGH-...``), under the node's code ``key``. Raises MalformedObject."""
    if len(key) != CODE_KEY_BYTES or len(report) != DIGEST_BYTES:
        raise MalformedObject("a code needs a 32-byte key and a 32-byte report digest")
    head = (
        bytes([CODE_VERSION]) + (_minute(at) // 60).to_bytes(4, "big") + report[:CODE_CHECK_BYTES]
    )
    text = base64.b32encode(head + _code_mac(key, head)).decode()
    return "-".join(text[i : i + 4] for i in range(0, CODE_CHARS, 4))


def normalise_code(text: str) -> str | None:
    """The code's 24 letters and digits (upper case, spacing and dashes gone, a
    misread 0, 1 or 8 read as O, I or B), or None if ``text`` cannot be a code."""
    letters = _CODE_SPACING.sub("", text).upper().translate(_MISREAD)
    if len(letters) != CODE_CHARS or not re.fullmatch(r"[A-Z2-7]+", letters):
        return None
    return letters


def read_code(key: bytes, text: str) -> Receipt:
    """Check a short code made under ``key``. Raises MalformedObject (not a code) or
    BadSignature (a code this key did not make)."""
    letters = normalise_code(text)
    if letters is None:
        raise MalformedObject("a receipt code is 24 letters and digits")
    raw = base64.b32decode(letters)
    head, mac = raw[: CODE_BYTES - CODE_MAC_BYTES], raw[CODE_BYTES - CODE_MAC_BYTES :]
    if head[0] != CODE_VERSION:
        raise MalformedObject("unknown receipt code version")
    if not hmac.compare_digest(mac, _code_mac(key, head)):
        raise BadSignature("this node did not make that receipt code")
    return Receipt(b"", int.from_bytes(head[1:5], "big") * 60, head[5:])
