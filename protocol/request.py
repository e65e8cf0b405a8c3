"""Signed HTTP requests between nodes, and the replay window that goes with them.

Rule: a request is accepted only if one header carries the calling node's signature
over everything that gives the request its meaning (method, raw path and query,
SHA-256 of the body, origin, destination, timestamp, nonce), the timestamp is within
``REQUEST_SKEW_S`` of the receiver's clock, and the (origin, nonce) pair was not seen
within that window. ``verify_request`` checks all but the last, which needs memory:
``NonceWindow`` is that memory, pure and bounded, for the server to own.

The header carries only what the receiver cannot know by itself. The method, the
path and query, the body (hence its hash) and the destination (the receiver's own
key) are already in the receiver's hands, so it rebuilds the signed message from
them; a request signed for another method, path, body or node then simply fails to
verify. The origin is the signer, so it is not repeated either.

    header  = REQUEST_HEADER: base64url(msgpack [v, signer(32), ts, nonce(16), sig(64)]),
              canonical msgpack, no base64 padding; v = 1
    sig     = Ed25519(signer, Kind.REQUEST tag || message)
    message = msgpack {"v": v, "method": str, "path": str, "body": bin32,
                       "origin": bin32 (the signer), "dest": bin32, "ts": int,
                       "nonce": bin16}

``v`` is both the header layout and the signed message layout, and it is signed, so
a header cannot be reread under another version. ``path`` is the path and query
exactly as they appear on the request line (aiohttp: ``request.raw_path``), so neither
side re-encodes it. A header is 167 characters today and at most
``MAX_REQUEST_HEADER_CHARS`` (172) for any timestamp the protocol allows.

The server checks, in this order: ``verify_request``; that the origin is a known,
unsuspended peer; its rate limit; then ``NonceWindow.seen`` in that peer's own window.
Recording nonces only for known peers keeps strangers from filling a window, and one
window per peer keeps a peer from filling anyone's but its own.
"""

from __future__ import annotations

import hashlib
import heapq
import re
from dataclasses import dataclass

import nacl.signing

from .card import b64url_decode, b64url_encode
from .encoding import pack, unpack
from .errors import (
    BadSignature,
    ClockSkew,
    InvalidField,
    LimitExceeded,
    LocalProtocolError,
    MalformedObject,
    UnsupportedVersion,
)
from .limits import Limits
from .signing import KEY_BYTES, SIG_BYTES, Kind, check_signature

VERSION = 1
REQUEST_HEADER = "Alertnode-Auth"
REQUEST_SKEW_S = 60
NONCE_BYTES = 16
MAX_METHOD_CHARS = 16
MAX_PATH_CHARS = 1024
# Nonces kept per peer (one window per trust-list entry, about 100 bytes each): more
# than a peer can send within a window at the federation rate limit (200 at once,
# then 20 a second: 1,400 in 60 s), so only a peer whose limits were raised fills it.
MAX_NONCES_PER_PEER = 4096

# Far beyond any real time, yet inside what datetime can represent (year 9999).
_MAX_TIME = 2**37
_HEADER_ITEMS = 5
# The longest header any allowed value gives: a timestamp past 2**32 takes 9 bytes.
MAX_REQUEST_HEADER_BYTES = len(
    pack((VERSION, bytes(KEY_BYTES), _MAX_TIME, bytes(NONCE_BYTES), bytes(SIG_BYTES)))
)
MAX_REQUEST_HEADER_CHARS = (MAX_REQUEST_HEADER_BYTES * 4 + 2) // 3
_HEADER_LIMITS = Limits(
    envelope_bytes=MAX_REQUEST_HEADER_BYTES,
    body_bytes=MAX_REQUEST_HEADER_BYTES,
    str_bytes=0,
    bin_bytes=SIG_BYTES,
    array_len=_HEADER_ITEMS,
    map_len=0,
    depth=1,
)
_METHOD_RE = re.compile(rf"[A-Z]{{1,{MAX_METHOD_CHARS}}}")
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
        """The signed message, without the domain tag (see the module docstring)."""
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


def _check_request_line(method: object, path: object) -> None:
    """Raise InvalidField unless ``method`` and ``path`` are ones a signer may sign."""
    if not isinstance(method, str) or not _METHOD_RE.fullmatch(method):
        raise InvalidField("method", "must be an HTTP method in capitals, like POST")
    if not isinstance(path, str) or len(path) > MAX_PATH_CHARS:
        raise InvalidField("path", f"must be text of at most {MAX_PATH_CHARS} characters")
    if not _PATH_RE.fullmatch(path):
        raise InvalidField("path", "must start with / and hold only printable ASCII")


def _check_destination(destination: object) -> None:
    if not isinstance(destination, bytes) or len(destination) != KEY_BYTES:
        raise InvalidField("dest", f"must be a {KEY_BYTES}-byte node key")


def _body_sha256(body: bytes) -> bytes:
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise LocalProtocolError("a request body is bytes")
    return hashlib.sha256(body).digest()


def _is_time(value: object) -> bool:
    return type(value) is int and 0 <= value <= _MAX_TIME


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
    Raises LocalProtocolError for a nonce or body of the wrong type or size, and
    InvalidField for a method, path, destination or time a receiver would refuse.
    """
    if not isinstance(nonce, bytes) or len(nonce) != NONCE_BYTES:
        raise LocalProtocolError(f"a request nonce is {NONCE_BYTES} bytes")
    _check_request_line(method, path_and_query)
    _check_destination(destination)
    if not _is_time(now):
        raise InvalidField("ts", f"must be a whole number of seconds from 0 to {_MAX_TIME}")
    signer = bytes(key.verify_key)
    auth = RequestAuth(method, path_and_query, _body_sha256(body), signer, destination, now, nonce)
    sig = key.sign(Kind.REQUEST.tag + auth.to_bytes()).signature
    return b64url_encode(pack((VERSION, signer, now, nonce, sig)))


def _parse_header(header_value: object) -> tuple[bytes, int, bytes, bytes]:
    """(signer, timestamp, nonce, sig) from a header value; checks framing only.

    Raises BadSignature if there is no header, LimitExceeded or MalformedObject.
    """
    if not isinstance(header_value, str) or not header_value:
        raise BadSignature(f"the request has no {REQUEST_HEADER} signature header")
    if len(header_value) > MAX_REQUEST_HEADER_CHARS:
        raise LimitExceeded(
            f"the request signature header is longer than {MAX_REQUEST_HEADER_CHARS} characters"
        )
    data = b64url_decode(header_value.strip(), "request signature header")
    value = unpack(data, _HEADER_LIMITS)
    if not isinstance(value, tuple) or len(value) != _HEADER_ITEMS:
        raise MalformedObject(f"the request signature header is an array of {_HEADER_ITEMS} items")
    version, signer, timestamp, nonce, sig = value
    if type(version) is not int or version != VERSION:
        raise UnsupportedVersion(
            f"the request signature header has version {version!r}; this node reads {VERSION}"
        )
    if not isinstance(signer, bytes) or len(signer) != KEY_BYTES:
        raise MalformedObject(f"the request signer key must be {KEY_BYTES} bytes")
    if not _is_time(timestamp):
        raise MalformedObject(f"the request timestamp must be from 0 to {_MAX_TIME}")
    if not isinstance(nonce, bytes) or len(nonce) != NONCE_BYTES:
        raise MalformedObject(f"the request nonce must be {NONCE_BYTES} bytes")
    if not isinstance(sig, bytes) or len(sig) != SIG_BYTES:
        raise MalformedObject(f"the request signature must be {SIG_BYTES} bytes")
    return signer, timestamp, nonce, sig


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
    does not decode; InvalidField("method" or "path") for a request line no signer
    could have signed; BadSignature if the signature does not verify, which is also
    what a signature made for another method, path, body or destination gives (the
    header does not say which, so neither can this); InvalidField("timestamp", ...)
    if the signing time is more than ``max_skew_s`` from ``now``.

    The clock is checked after the signature: a timestamp means something only once
    it is signed, so unsigned junk learns nothing from the clock check, and an honest
    peer whose clock is off still gets the "check both clocks" sentence rather than a
    bare refusal. (This hides nothing from someone with a key of their own, who can
    sign any timestamp, nor from anyone reading the HTTP Date header: the order is
    about reporting the true error, not about keeping the clock secret.)
    """
    signer, timestamp, nonce, sig = _parse_header(header_value)
    _check_request_line(method, path_and_query)
    _check_destination(expected_destination)
    auth = RequestAuth(
        method,
        path_and_query,
        _body_sha256(body),
        signer,
        expected_destination,
        timestamp,
        nonce,
    )
    try:
        check_signature(Kind.REQUEST, signer, auth.to_bytes(), sig)
    except BadSignature:
        raise BadSignature(
            "the request signature does not verify: it was made by another key, or for"
            " another method, path, body or node, or the header was changed"
        ) from None
    if abs(timestamp - now) > max_skew_s:
        raise ClockSkew(
            "timestamp",
            f"the request was signed {timestamp - now:+d} s from this node's clock, "
            f"more than ±{max_skew_s} s; check both clocks",
        )
    return auth


class NonceWindow:
    """The nonces of one peer's requests, for as long as each could be replayed. Pure
    and bounded; a server keeps one per trust-list entry (federation/replay.py).

    Invariant: a replay of any request accepted here is refused for as long as
    ``verify_request`` would accept its timestamp, while memory stays at ``max_nonces``
    entries, and no entry is kept longer than ``skew_s`` after the time it was
    recorded, whatever timestamp it carries. An entry recorded at ``now`` with
    timestamp ``ts`` is kept until ``min(ts, now) + skew_s`` (its *until*); a request
    signed ahead of the clock is still replayable after that, so forgetting an entry,
    when it ends or to make room, raises ``floor`` to its timestamp, and a request
    signed at or before ``floor`` is refused as "cannot tell". A future-dated flood
    therefore costs only the peer that sends it (its own later requests are refused
    until its clock passes what it claimed), never another peer's window.
    """

    def __init__(self, max_nonces: int = MAX_NONCES_PER_PEER, skew_s: int = REQUEST_SKEW_S) -> None:
        if max_nonces < 1 or skew_s < 0:
            raise LocalProtocolError("a nonce window holds at least one nonce")
        self.max_nonces = max_nonces
        self.skew_s = skew_s
        self.floor = -1
        # nonce -> (timestamp, until); a heap of (until, timestamp, nonce) to expire.
        self._seen: dict[bytes, tuple[int, int]] = {}
        self._by_until: list[tuple[int, int, bytes]] = []

    def __len__(self) -> int:
        return len(self._seen)

    def _forget_first(self) -> None:
        _, timestamp, nonce = heapq.heappop(self._by_until)
        del self._seen[nonce]
        self.floor = max(self.floor, timestamp)

    def _expire(self, now: int) -> None:
        while self._by_until and self._by_until[0][0] < now:
            self._forget_first()

    def _keep(self, nonce: bytes, timestamp: int, until: int) -> None:
        while len(self._seen) >= self.max_nonces:
            self._forget_first()
        self._seen[nonce] = (timestamp, until)
        heapq.heappush(self._by_until, (until, timestamp, nonce))

    def until(self, timestamp: int, now: int) -> int:
        """When an entry for a request signed at ``timestamp``, recorded at ``now``, ends."""
        return min(timestamp, now) + self.skew_s

    def seen(self, nonce: bytes, timestamp: int, now: int) -> bool:
        """Record a request; True means refuse it.

        True if ``nonce`` was seen before, or the request's signed ``timestamp`` is
        outside the window or at or before ``floor``, so a replay could not be ruled
        out. False means it is new and is now remembered (until ``until(timestamp,
        now)``; making room for it may forget an older entry and raise ``floor``).
        """
        self._expire(now)
        if abs(timestamp - now) > self.skew_s or timestamp <= self.floor:
            return True
        if nonce in self._seen:
            return True
        full = len(self._seen) >= self.max_nonces
        if full and timestamp <= self._by_until[0][1]:
            # Making room would forget a request signed no earlier than this one and
            # raise the floor over it: refuse it rather than push a newer one out.
            return True
        self._keep(nonce, timestamp, self.until(timestamp, now))
        return False

    def restore(self, nonce: bytes, timestamp: int, until: int, now: int) -> None:
        """Put back an entry recorded before a restart (in order of ``until``): one
        already ended only raises ``floor``; one that does not fit makes room as
        ``seen`` does. Restoring never lets a replay in."""
        if until < now:
            self.floor = max(self.floor, timestamp)
        elif nonce not in self._seen:
            self._keep(nonce, timestamp, until)
