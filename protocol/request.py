"""Signed HTTP requests between nodes, and the replay window that goes with them.

Rule: a request is accepted only if one header carries the calling node's signature
over everything that gives the request its meaning (method, raw path and query,
SHA-256 of the body, origin, destination, timestamp, nonce), the timestamp is within
``REQUEST_SKEW_S`` of the receiver's clock, and the (origin, nonce) pair was not seen
within that window. ``verify_request`` checks all but the last, which needs memory:
``NonceWindow`` is that memory, pure and bounded, for the server to own.

    header   = REQUEST_HEADER: base64url(envelope bytes), no padding
    envelope = signing.Envelope of Kind.REQUEST, signed by the origin
    body     = msgpack {"v": 1, "method": str, "path": str, "body": bin32,
                        "origin": bin32, "dest": bin32, "ts": int, "nonce": bin16}

``path`` is the path and query exactly as they appear on the request line (aiohttp:
``request.raw_path``), so neither side re-encodes it. A typical header is about 400
characters (see the tests for the measured size).

The server checks, in this order: ``verify_request``; that the origin is a known,
unsuspended peer; then ``NonceWindow.seen``. Recording nonces only for known peers
keeps strangers from filling the window.
"""

from __future__ import annotations

import hashlib
import heapq
import re
from dataclasses import dataclass

import nacl.signing

from .card import b64url_decode, b64url_encode
from .encoding import pack, unpack
from .errors import BadSignature, InvalidField, LimitExceeded, LocalProtocolError
from .fields import Reader
from .limits import Limits
from .signing import KEY_BYTES, Kind, decode_body, open_envelope, sign

VERSION = 1
REQUEST_HEADER = "Alertnode-Auth"
REQUEST_SKEW_S = 60
NONCE_BYTES = 16
BODY_HASH_BYTES = 32
MAX_METHOD_CHARS = 16
MAX_PATH_CHARS = 1024
MAX_REQUEST_ENVELOPE_BYTES = 1536
MAX_REQUEST_HEADER_CHARS = (MAX_REQUEST_ENVELOPE_BYTES * 4 + 2) // 3
# About 200 bytes each: at most ~15 MB, and room for ~500 requests a second from all
# peers together within the window before the floor (see NonceWindow) moves up.
MAX_NONCES = 65536
REQUEST_LIMITS = Limits(
    envelope_bytes=MAX_REQUEST_ENVELOPE_BYTES,
    body_bytes=MAX_REQUEST_ENVELOPE_BYTES,
    str_bytes=2 * MAX_PATH_CHARS,
    bin_bytes=64,
    array_len=0,
    map_len=16,
    depth=1,
)

# Far beyond any real time, yet inside what datetime can represent (year 9999).
_MAX_TIME = 2**37
_METHOD_RE = re.compile(r"[A-Z]{1,16}")
_PATH_RE = re.compile(r"/[\x21-\x7e]*")


@dataclass(frozen=True, slots=True)
class RequestAuth:
    """What a request signature covers."""

    method: str
    path_and_query: str
    body_sha256: bytes
    origin: bytes
    destination: bytes
    timestamp: int
    nonce: bytes

    def to_bytes(self) -> bytes:
        return pack(
            {
                "v": VERSION,
                "method": self.method,
                "path": self.path_and_query,
                "body": self.body_sha256,
                "origin": self.origin,
                "dest": self.destination,
                "ts": self.timestamp,
                "nonce": self.nonce,
            }
        )


def _read_auth(value: dict[str, object]) -> RequestAuth:
    r = Reader(value, "request signature")
    r.integer("v", VERSION, VERSION)
    method = r.text("method", MAX_METHOD_CHARS)
    if not _METHOD_RE.fullmatch(method):
        raise InvalidField("method", "must be an HTTP method in capitals, like POST")
    path = r.text("path", MAX_PATH_CHARS)
    if not _PATH_RE.fullmatch(path):
        raise InvalidField("path", "must start with / and hold only printable ASCII")
    body_sha256 = r.blob("body", BODY_HASH_BYTES)
    origin = r.blob("origin", KEY_BYTES)
    destination = r.blob("dest", KEY_BYTES)
    timestamp = r.integer("ts", 0, _MAX_TIME)
    nonce = r.blob("nonce", NONCE_BYTES)
    r.finish()
    assert body_sha256 is not None and origin is not None
    assert destination is not None and nonce is not None
    return RequestAuth(method, path, body_sha256, origin, destination, timestamp, nonce)


def sign_request(
    key: nacl.signing.SigningKey,
    method: str,
    path_and_query: str,
    body: bytes,
    destination: bytes,
    now: int,
    nonce: bytes,
) -> str:
    """The ``REQUEST_HEADER`` value for a request from ``key``'s node to ``destination``.

    ``nonce`` is 16 random bytes the caller draws for this request only.
    Raises InvalidField (or another ProtocolError) if a receiver would refuse it.
    """
    if len(nonce) != NONCE_BYTES:
        raise LocalProtocolError(f"a request nonce is {NONCE_BYTES} bytes")
    auth = RequestAuth(
        method,
        path_and_query,
        hashlib.sha256(body).digest(),
        bytes(key.verify_key),
        destination,
        now,
        nonce,
    )
    try:
        data = auth.to_bytes()
    except (TypeError, ValueError, OverflowError):
        raise LocalProtocolError("a request field has the wrong type") from None
    _read_auth(unpack(data, REQUEST_LIMITS))
    header = b64url_encode(sign(Kind.REQUEST, data, key).to_bytes())
    if len(header) > MAX_REQUEST_HEADER_CHARS:
        raise LimitExceeded(f"the request header is longer than {MAX_REQUEST_HEADER_CHARS}")
    return header


def verify_request(
    header_value: str,
    method: str,
    path_and_query: str,
    body: bytes,
    expected_destination: bytes,
    now: int,
    max_skew_s: int = REQUEST_SKEW_S,
) -> RequestAuth:
    """Check the ``REQUEST_HEADER`` value of a request this node received at ``now``.

    Returns what was signed; ``.origin`` is the calling node's key and ``.nonce`` goes
    to ``NonceWindow.seen``. Raises LimitExceeded or MalformedObject for a header that
    does not decode; BadSignature if the signature does not verify or covers another
    method, path, body or destination; InvalidField("timestamp", ...) if the signing
    time is more than ``max_skew_s`` from ``now``.
    """
    if not isinstance(header_value, str):
        raise BadSignature("the request signature header is missing")
    if len(header_value) > MAX_REQUEST_HEADER_CHARS:
        raise LimitExceeded(
            f"the request signature header is longer than {MAX_REQUEST_HEADER_CHARS} characters"
        )
    data = b64url_decode(header_value.strip(), "request signature header")
    env = open_envelope(data, Kind.REQUEST, REQUEST_LIMITS)
    auth = _read_auth(decode_body(env, REQUEST_LIMITS))
    if auth.origin != env.signer:
        raise BadSignature("the request names an origin other than the key that signed it")
    if auth.destination != expected_destination:
        raise BadSignature("the request was signed for another node")
    if auth.method != method or auth.path_and_query != path_and_query:
        raise BadSignature("the request was signed for another method or path")
    if auth.body_sha256 != hashlib.sha256(body).digest():
        raise BadSignature("the request body is not the one that was signed")
    if abs(auth.timestamp - now) > max_skew_s:
        raise InvalidField(
            "timestamp",
            f"the request was signed {auth.timestamp - now:+d} s from this node's clock, "
            f"more than ±{max_skew_s} s; check both clocks",
        )
    return auth


class NonceWindow:
    """Which (origin, nonce) pairs were seen within the skew window. Pure and bounded.

    Invariant: a replay of any request accepted here is refused, for as long as
    ``verify_request`` would accept its timestamp, while memory stays at ``max_nonces``
    entries. Entries leave once their timestamp is older than ``now - skew_s``. When
    the window is full of live entries, the oldest is dropped and ``floor`` rises to
    its timestamp: from then on, any request signed at or before ``floor`` is refused
    as "cannot tell", so dropping an entry never lets its replay in. Under a flood
    the cost is refusing old-but-honest requests, which the caller retries.
    """

    def __init__(self, max_nonces: int = MAX_NONCES, skew_s: int = REQUEST_SKEW_S) -> None:
        if max_nonces < 1 or skew_s < 0:
            raise LocalProtocolError("a nonce window holds at least one nonce")
        self.max_nonces = max_nonces
        self.skew_s = skew_s
        self.floor = -1
        self._seen: dict[tuple[bytes, bytes], int] = {}
        self._by_time: list[tuple[int, bytes, bytes]] = []

    def __len__(self) -> int:
        return len(self._seen)

    def _expire(self, now: int) -> None:
        oldest_live = now - self.skew_s
        while self._by_time and self._by_time[0][0] < oldest_live:
            _, origin, nonce = heapq.heappop(self._by_time)
            del self._seen[(origin, nonce)]

    def seen(self, origin: bytes, nonce: bytes, timestamp: int, now: int) -> bool:
        """Record a request; True means refuse it.

        True if (``origin``, ``nonce``) was seen before, or the request's signed
        ``timestamp`` is outside the window or at or before ``floor``, so a replay
        could not be ruled out. False means it is new and is now remembered.
        """
        self._expire(now)
        if abs(timestamp - now) > self.skew_s or timestamp <= self.floor:
            return True
        key = (origin, nonce)
        if key in self._seen:
            return True
        if len(self._seen) >= self.max_nonces:
            if timestamp <= self._by_time[0][0]:
                # Older than everything kept: remembering it would push out a newer one.
                return True
            oldest, old_origin, old_nonce = heapq.heappop(self._by_time)
            del self._seen[(old_origin, old_nonce)]
            self.floor = max(self.floor, oldest)
        self._seen[key] = timestamp
        heapq.heappush(self._by_time, (timestamp, origin, nonce))
        return False
