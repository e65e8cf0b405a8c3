"""Receipts for reports: made when a report arrives, checked later, stored never.

Rule: a receipt is computed from the report's content, the minute it arrived and the
node's keys, handed to the member once, and forgotten: nothing about it (the code,
the file, the report's digest) is written to the store or the log. So checking one
needs only the node's keys: the signing keys (this one and those it rotated away
from) for a file, and the code key, derived from the data key, for a short code.
The data key survives passphrase changes, key rotations and restores, so a code
stays checkable for the node's whole life.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import nacl.signing

from protocol import receipt as wire
from protocol.errors import ProtocolError

if TYPE_CHECKING:
    from .app import NodeKeys

CODE_KEY_PURPOSE = b"alertnode:v2:receipt-code-key:"
# The file: one line of the code, one line of the signed receipt (base64). Neutral on
# purpose: it says nothing of what the service is.
FILE_HEADER = "Receipt"


def code_key(data_key: bytes) -> bytes:
    """The key short codes are made and checked under (a subkey of the data key)."""
    return hashlib.blake2b(CODE_KEY_PURPOSE, key=data_key, digest_size=wire.CODE_KEY_BYTES).digest()


@dataclass(frozen=True, slots=True)
class Issued:
    """A receipt as the member gets it."""

    at: int  # Unix time, a whole minute
    code: str
    signed: bytes  # the signed receipt (protocol/receipt.py)
    file_text: str

    @property
    def when(self) -> str:
        return minute_text(self.at)

    @property
    def signed_b64(self) -> str:
        return base64.b64encode(self.signed).decode()


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a check found; ``at`` and ``report`` only when ``valid``."""

    valid: bool
    form: str  # "code", "file" or "unknown"
    at: int | None = None
    report: bytes | None = None  # the full digest (file form only)

    @property
    def when(self) -> str:
        return minute_text(self.at) if self.at is not None else ""

    def to_json(self) -> dict[str, Any]:
        received = None
        if self.at is not None:
            received = datetime.datetime.fromtimestamp(self.at, datetime.UTC).isoformat()
        return {
            "valid": self.valid,
            "form": self.form,
            "received": received,
            "report_sha256": self.report.hex() if self.report is not None else None,
        }


def issue(
    signing: nacl.signing.SigningKey, data_key: bytes, content: Mapping[str, Any], now: int
) -> Issued:
    """The receipt for a report with ``content`` received at ``now``."""
    digest = wire.report_digest(content)
    at = now - now % 60
    code = wire.make_code(code_key(data_key), digest, at)
    signed = wire.make_receipt(signing, digest, at)
    return Issued(at, code, signed, file_text(at, code, signed))


def file_text(at: int, code: str, signed: bytes) -> str:
    """A receipt file: a line with the minute, a line with the code, and the signed
    receipt in base64 (what a check reads) as the last line."""
    return f"{FILE_HEADER} {minute_text(at)}\n{code}\n{base64.b64encode(signed).decode()}\n"


def minute_text(at: int) -> str:
    """A receipt's minute as people read it, in UTC (no locale: it is evidence)."""
    return datetime.datetime.fromtimestamp(at, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def signed_bytes(text: str) -> bytes | None:
    """The signed receipt in a receipt file's text (its last line), or None."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines or len(lines[-1]) > wire.MAX_RECEIPT_BYTES * 2:
        return None
    try:
        return base64.b64decode(lines[-1], validate=True)
    except (binascii.Error, ValueError):
        return None


def verify(
    text: str,
    data_key: bytes,
    node_keys: tuple[bytes, ...],
) -> Verdict:
    """Check a short code or a receipt file's text against this node's keys
    (``node_keys``: its public keys, current and earlier). Never raises on what
    a visitor typed: an unreadable or forged receipt is ``valid=False``."""
    if wire.normalise_code(text) is not None:
        try:
            found = wire.read_code(code_key(data_key), text)
        except ProtocolError:
            return Verdict(False, "code")
        return Verdict(True, "code", found.at)
    signed = signed_bytes(text)
    if signed is None:
        return Verdict(False, "unknown")
    try:
        opened = wire.open_receipt(signed)
    except ProtocolError:
        return Verdict(False, "file")
    if opened.node not in node_keys:
        return Verdict(False, "file")
    return Verdict(True, "file", opened.at, opened.report)


@dataclass(frozen=True, slots=True)
class ReceiptKeys:
    """What receipts take from an unlocked node's keys, so that pages never hold the
    data key: the current signing key, every public key the node signed with (current
    and earlier), and the code key derived from the data key."""

    signing: nacl.signing.SigningKey
    public: tuple[bytes, ...]
    _secret: bytes

    @classmethod
    def of(cls, keys: NodeKeys) -> ReceiptKeys:
        public = tuple(bytes(k.verify_key) for k in (keys.signing, *keys.previous))
        return cls(keys.signing, public, keys.data_key)

    def issue(self, content: Mapping[str, Any], now: int) -> Issued:
        return issue(self.signing, self._secret, content, now)

    def code(self, report: bytes, at: int) -> str:
        return wire.make_code(code_key(self._secret), report, at)

    def verify(self, text: str) -> Verdict:
        return verify(text, self._secret, self.public)
