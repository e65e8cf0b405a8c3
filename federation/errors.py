"""The federation layer's error tree, the table of error codes, and a refusal's wire form.

Rule: every error federation/ raises on purpose is a ``FederationError`` with a
stable ``code`` from ``CODES`` (documented in docs/protocol.md section 7) and a
``message`` for a person; a program decides from the code alone (is it retryable,
must an admin act), never from the message. A refused signed request is answered with
the msgpack map ``{"code", "message"[, "field"]}`` (``refusal_body``) and read back
into a ``PeerRefused`` (``parse_refusal``), which keeps code, message, field and
Retry-After; nothing a peer sends is shown unbounded or unsanitised.

    FederationError               base (status 502); message is a sentence for the
    │                             admin's status view
    ├── PeerUnreachable            "unreachable" / "timeout": connection failed or timed out
    ├── PeerRefused                the peer refused; its code, message, field, Retry-After
    ├── BadResponse                "bad_response": the peer's answer cannot be used
    ├── PinMismatch                "pin_mismatch": the TLS certificate is not the pinned one
    ├── TransportNotAllowed        "no_route": no URL we may use (plain HTTP off loopback, ...)
    ├── Unauthorised               an inbound request we refuse, by code
    ├── ItemRefused                an item a peer served that we do not store, by code
    └── DiscoveryError             "discovery_failed": pairing discovery could not start

Protocol errors from a peer's bytes (protocol.errors.RemoteProtocolError) pass
through unchanged; they carry their own code, and the server answers with it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from protocol.encoding import pack, unpack
from protocol.errors import ProtocolError
from protocol.extensions import is_key
from protocol.limits import Limits


@dataclass(frozen=True, slots=True)
class Code:
    """One error code: the HTTP status it is answered with (None: never on the wire,
    it is this node's own finding), whether the same request may succeed later with
    nobody changing anything, and what it means."""

    status: int | None
    retryable: bool
    meaning: str


# Codes a node answers a signed request with. The tests check each is documented.
WIRE_CODES: Mapping[str, Code] = {
    "malformed": Code(400, False, "the body or the signature header does not decode"),
    "invalid_request": Code(400, False, "the request asks for something the protocol forbids"),
    "unsupported_version": Code(400, False, "a protocol version this node does not read"),
    "invalid_field": Code(422, False, "a field's value is not allowed; `field` names it"),
    "unsupported_extension": Code(
        422, False, "a must-understand extension this node does not know; `field` names it"
    ),
    "too_large": Code(413, False, "the body, or something in it, is over a limit"),
    "bad_signature": Code(401, False, "a signature does not verify"),
    "clock_skew": Code(401, False, "signed more than 60 s from the receiver's clock"),
    "replayed": Code(401, True, "this (signer, nonce) was seen; sign a new request"),
    "unknown_node": Code(403, False, "the signer is not on the receiver's trust list"),
    "suspended": Code(403, False, "the receiver has suspended the signer"),
    "not_shared": Code(403, False, "the receiver does not share alerts with the signer"),
    "not_own_key": Code(403, False, "a node may rotate or pin only its own key"),
    "key_taken": Code(409, False, "the new key already belongs to another peer"),
    "stale_epoch": Code(409, True, "positions from another epoch; ask for changes again"),
    "stale_statement": Code(409, False, "a newer statement of the same kind was applied"),
    "rotation_too_soon": Code(
        429, True, "the signer's own rotation came too soon after its last; wait Retry-After"
    ),
    "statements_full": Code(
        409, False, "the receiver keeps no more rotation statements passed on by the signer"
    ),
    "not_found": Code(404, False, "no such route"),
    "method_not_allowed": Code(405, False, "routes take POST only"),
    "rate_limited": Code(429, True, "too many requests; wait Retry-After seconds"),
    "locked": Code(503, True, "the receiver is locked; wait Retry-After seconds"),
    "internal": Code(500, True, "the receiver failed; try again later"),
}

# Codes a node records about a peer but never sends: transport failures, answers it
# cannot use, and items it refused from a peer. An item refusal may also carry a
# protocol code (bad_signature, malformed, invalid_field, too_large, ...).
LOCAL_CODES: Mapping[str, Code] = {
    "unreachable": Code(None, True, "the peer cannot be reached"),
    "timeout": Code(None, True, "the peer did not answer in time"),
    "pin_mismatch": Code(None, False, "the peer's TLS certificate is not the one in its card"),
    "no_route": Code(None, False, "no URL of the peer's that this node may use"),
    "bad_response": Code(None, True, "the peer's answer cannot be used"),
    "discovery_failed": Code(None, True, "pairing discovery could not start"),
    "not_asked": Code(None, False, "an item this node did not ask for"),
    "not_accepted": Code(None, False, "the trust list does not accept this from the peer"),
    "blocked_origin": Code(None, False, "the item's origin is blocked"),
    "over_quota": Code(None, True, "the item's origin has its quota of stored alerts"),
    "peer_over_quota": Code(None, True, "the delivering peer has its quota of stored alerts"),
    "unnamed_over_quota": Code(
        None, True, "origins this node cannot name have their shared quota of stored alerts"
    ),
    "markers_over_quota": Code(
        None, True, "the markers quota (the delivering peer's or the node's) is full"
    ),
    "not_origin": Code(None, False, "a retraction of an alert that another origin published"),
    "too_many_hops": Code(None, False, "the item travelled further than its hop limit"),
    "own_item": Code(None, False, "a retraction of this node's own alert, from a peer"),
    "wrong_kind": Code(None, False, "not an alert or a retraction"),
    "retired_key": Code(None, False, "signed by a key its node retired after rotating"),
    "warnings_off": Code(None, False, "an area warning, which this node does not take"),
}

CODES: Mapping[str, Code] = {**WIRE_CODES, **LOCAL_CODES}

# What this node reads of a peer's refusal: anything longer is cut; a code that is not
# a short snake_case word is not believed, nor a field that is neither such a word nor
# an extension key (unsupported_extension names the key); other keys are ignored.
MAX_REFUSAL_BYTES = 1024
MAX_REFUSAL_KEYS = 8
MAX_MESSAGE_CHARS = 300
MAX_RETRY_AFTER_S = 86_400
_WORD_RE = re.compile(r"[a-z][a-z0-9_]{0,39}")
_REFUSAL_LIMITS = Limits(
    envelope_bytes=MAX_REFUSAL_BYTES,
    body_bytes=MAX_REFUSAL_BYTES,
    str_bytes=MAX_REFUSAL_BYTES,
    bin_bytes=0,
    array_len=0,
    map_len=MAX_REFUSAL_KEYS,
    depth=1,
)


def is_retryable(code: str, status: int | None = None) -> bool:
    """Whether a request refused with ``code`` may succeed later, unchanged. A code
    this node does not know (a newer peer's) is judged by its HTTP status."""
    known = CODES.get(code)
    if known is not None:
        return known.retryable
    return status is not None and (status == 429 or status >= 500)


class FederationError(Exception):
    status = 502
    code = "bad_response"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class PeerUnreachable(FederationError):
    code = "unreachable"


class PeerRefused(FederationError):
    """The peer answered with an error: its ``status``, ``code``, ``message``, the
    ``field`` at fault if it named one, and ``retry_after`` seconds if it gave them."""

    def __init__(
        self,
        message: str,
        status: int,
        *,
        code: str = "bad_response",
        field: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.field = field
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return is_retryable(self.code, self.status)


class BadResponse(FederationError):
    code = "bad_response"


class PinMismatch(FederationError):
    code = "pin_mismatch"


class TransportNotAllowed(FederationError):
    code = "no_route"


class Unauthorised(FederationError):
    """An inbound request we refuse; ``status`` comes from ``WIRE_CODES[code]``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)
        self.status = WIRE_CODES[code].status or 400


class ItemRefused(FederationError):
    """An item a peer served that this node will not store; ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


class DiscoveryError(FederationError):
    """Advertising for pairing could not start (no usable interface, bad address)."""

    status = 503
    code = "discovery_failed"


# --- a refusal on the wire --------------------------------------------------------


def refusal_body(code: str, message: str, field: str | None = None) -> bytes:
    """The canonical msgpack body of a refusal: {"code", "message"[, "field"]}."""
    doc: dict[str, str] = {"code": code, "message": message[:MAX_MESSAGE_CHARS]}
    if field is not None:
        doc["field"] = field
    return pack(doc)


def _clean(text: str) -> str:
    """A peer's sentence, safe to show: printable, one line, bounded."""
    shown = "".join(c if c.isprintable() else " " for c in text)
    return " ".join(shown.split())[:MAX_MESSAGE_CHARS]


def _retry_after(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return min(int(value.strip()), MAX_RETRY_AFTER_S)


def parse_refusal(status: int, body: bytes, retry_after: str | None) -> PeerRefused:
    """A ``PeerRefused`` from a peer's error answer. A body that is not a refusal map
    (an old node, a proxy's error page) gives code "bad_response" and no peer text."""
    wait = _retry_after(retry_after)
    try:
        doc = unpack(body, _REFUSAL_LIMITS)
    except ProtocolError:
        doc = None
    code = doc.get("code") if isinstance(doc, dict) else None
    message = doc.get("message") if isinstance(doc, dict) else None
    if not (isinstance(code, str) and _WORD_RE.fullmatch(code) and isinstance(message, str)):
        return PeerRefused(
            f"the peer refused ({status}) without a reason this node can read",
            status,
            retry_after=wait,
        )
    assert isinstance(doc, dict)
    field = doc.get("field")
    if not (isinstance(field, str) and (_WORD_RE.fullmatch(field) or is_key(field))):
        field = None
    return PeerRefused(_clean(message), status, code=code, field=field, retry_after=wait)


def retry_after_s(seconds: float) -> str:
    """A Retry-After value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
