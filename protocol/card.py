"""Node cards: what two admins exchange to peer, and the versions a node speaks.

Rule: only ``verify_card`` / ``parse_card_text`` make a ``VerifiedCard``. They check
size, then the self-signature, then every field, then validity against the ``now``
the caller passes in; building goes through the same checks, so a node never hands
out a card a peer would refuse.

    card body = msgpack {"v": 2, "name": str, "key": bin32, "urls": [str, ...],
                         "pins": [bin32, ...], "created": int, "expires": int,
                         "versions": [int, ...], "caps": [str, ...],
                         "ext": {str: any}, "must_understand": [str, ...]}
    card text = "alertnode-card:2:" + base64url(envelope bytes), without padding

A federation URL is ``https://host[:port][/path]`` (the TLS key is pinned by one of
``pins``, the SHA-256 of the certificate's SubjectPublicKeyInfo), or
``http://<v3 onion>.onion[:port][/path]`` (Tor authenticates the onion), or plain
http to a loopback host, which a card may carry but a node refuses unless an explicit
test flag is set (see ``is_loopback_url``). ``versions`` are the federation protocol
versions the node speaks; two nodes talk the highest both list (``negotiate``).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import ipaddress
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nacl.signing

from .alert import coarsen_hour
from .encoding import pack
from .errors import InvalidField, LimitExceeded, LocalProtocolError, MalformedObject
from .extensions import UNDERSTOOD, Ext, ext_value, read_ext
from .fields import Reader, check_hour, check_text
from .limits import DAY_S, MAX_CLOCK_SKEW_S, MAX_EXT_BYTES, MAX_EXT_KEYS, MAX_NAME_CHARS, Limits
from .signing import KEY_BYTES, Envelope, Kind, Proof, Verified, decode_body, open_envelope, sign

VERSION = 2
CARD_TEXT_PREFIX = "alertnode-card:2:"
PIN_BYTES = 32
MAX_CARD_PINS = 4
MAX_CARD_URLS = 4
MAX_URL_CHARS = 256
MAX_CARD_VALIDITY_S = 2 * 365 * DAY_S
DEFAULT_CARD_VALIDITY_S = 365 * DAY_S
# The federation protocol versions this implementation speaks, and the capabilities
# it announces; a card must share at least one version with ours to be added.
SUPPORTED_VERSIONS: tuple[int, ...] = (2,)
CAPABILITIES: tuple[str, ...] = ("feed", "ids", "pins", "poke", "rotate")
# Extension keys of a card this implementation understands (none yet).

MAX_VERSIONS = 8
MAX_VERSION = 255
MAX_CAPS = 16
_CAP_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,31}|[a-z0-9-]+(\.[a-z0-9-]+)+:[a-z0-9][a-z0-9_-]{0,31}")
# Four URLs of 256 characters, an 80-character name, four pins, sixteen capabilities
# and a full extension map fit with room to spare.
MAX_CARD_BYTES = 3072
MAX_CARD_TEXT_CHARS = len(CARD_TEXT_PREFIX) + (MAX_CARD_BYTES * 4 + 2) // 3
CARD_LIMITS = Limits(
    envelope_bytes=MAX_CARD_BYTES,
    body_bytes=MAX_CARD_BYTES,
    str_bytes=max(4 * MAX_NAME_CHARS, MAX_URL_CHARS, MAX_EXT_BYTES),
    bin_bytes=64,
    array_len=max(MAX_CAPS, MAX_CARD_URLS, MAX_CARD_PINS, MAX_VERSIONS, MAX_EXT_KEYS),
    map_len=12,
    depth=3,
)

SAS_PURPOSE = b"alertnode:v2:sas:"
SAS_DIGITS = 6

# Far beyond any real time, yet inside what datetime can represent (year 9999).
_MAX_TIME = 2**37
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]*")
_URL_CHARS_RE = re.compile(r"[\x21-\x7e]+")
_PATH_SEGMENT_RE = re.compile(r"[A-Za-z0-9._~-]+")
_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_ONION_RE = re.compile(r"[a-z2-7]{56}\.onion")
_ONION_VERSION = b"\x03"


@dataclass(frozen=True, slots=True)
class NodeCard:
    """The signed content of a node card."""

    name: str
    key: bytes
    urls: tuple[str, ...]
    pins: tuple[bytes, ...]
    created: int
    expires: int
    versions: tuple[int, ...] = SUPPORTED_VERSIONS
    caps: tuple[str, ...] = CAPABILITIES
    ext: Ext = ()
    must_understand: tuple[str, ...] = ()

    def to_bytes(self) -> bytes:
        return pack(
            {
                "v": VERSION,
                "name": self.name,
                "key": self.key,
                "urls": self.urls,
                "pins": self.pins,
                "created": self.created,
                "expires": self.expires,
                "versions": self.versions,
                "caps": self.caps,
                "ext": ext_value(self.ext),
                "must_understand": self.must_understand,
            }
        )


class VerifiedCard(Verified[NodeCard]):
    """A card whose self-signature, fields and validity were checked."""

    __slots__ = ()
    made_by = "verify_card()"

    @property
    def key(self) -> bytes:
        return self.body.key

    def to_text(self) -> str:
        return encode_card_text(self.envelope)


def b64url_encode(data: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str, what: str) -> bytes:
    """Strict, canonical base64url without padding; raises MalformedObject."""
    if not _B64URL_RE.fullmatch(text) or len(text) % 4 == 1:
        raise MalformedObject(f"the {what} is not valid base64url text")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise MalformedObject(f"the {what} is not valid base64url text") from None
    if b64url_encode(data) != text:
        # Unused low bits set: another spelling of the same bytes.
        raise MalformedObject(f"the {what} is not canonical base64url text")
    return data


def _onion_ok(host: str) -> bool:
    """True if ``host`` is a v3 onion address whose checksum is right."""
    if not _ONION_RE.fullmatch(host):
        return False
    raw = base64.b32decode(host[:56].upper())
    pubkey, checksum, version = raw[:32], raw[32:34], raw[34:]
    digest = hashlib.sha3_256(b".onion checksum" + pubkey + version).digest()
    return version == _ONION_VERSION and digest[:2] == checksum


def _host_kind(host: str) -> str:
    """Classify a URL host: "loopback", "onion" or "public"; "" if not a valid host."""
    if host.startswith("[") and host.endswith("]"):
        try:
            address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv6Address(
                host[1:-1]
            )
        except ValueError:
            return ""
        return "loopback" if address.is_loopback else "public"
    host = host.lower()
    if host.endswith(".onion"):
        return "onion" if _onion_ok(host) else ""
    if host == "localhost":
        return "loopback"
    labels = host.split(".")
    if labels[-1].isdigit():
        # Anything whose last label is a number must be a full dotted-quad address:
        # resolvers read "127.1" as 127.0.0.1, so it may not pass as a name.
        try:
            address = ipaddress.IPv4Address(host)
        except ValueError:
            return ""
        return "loopback" if address.is_loopback else "public"
    if len(host) > 253 or not all(_LABEL_RE.fullmatch(label) for label in labels):
        return ""
    return "public"


def _split_host(url: str) -> tuple[str, str, str] | None:
    """(scheme, host, host kind) of an absolute http(s) URL, or None."""
    if not _URL_CHARS_RE.fullmatch(url):
        return None
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not url.startswith(parts.scheme + "://"):
        return None
    if port == 0 or parts.username is not None or parts.password is not None:
        return None
    netloc = parts.netloc
    host, _, port_text = netloc.rpartition(":") if port is not None else (netloc, "", "")
    if netloc.endswith(":") or "%" in host or port_text.startswith("0"):
        # An empty port, a zone id or a zero-padded port: not one plain spelling.
        return None
    kind = _host_kind(host)
    return (parts.scheme, host, kind) if kind else None


def is_loopback_url(url: str) -> bool:
    """True if ``url`` is an http(s) URL whose host is 127.0.0.0/8, ::1 or localhost.

    Plain http to such a URL is what a node refuses unless its test flag is set.
    """
    split = _split_host(url)
    return split is not None and split[2] == "loopback"


def is_onion_url(url: str) -> bool:
    """True if ``url`` is an http(s) URL whose host is a valid v3 onion address."""
    split = _split_host(url)
    return split is not None and split[2] == "onion"


def check_url(field_name: str, url: str) -> str:
    """Raise InvalidField unless ``url`` is an acceptable federation URL."""
    if len(url) > MAX_URL_CHARS:
        raise InvalidField(field_name, f"a URL is at most {MAX_URL_CHARS} characters")
    split = _split_host(url)
    if split is None:
        raise InvalidField(
            field_name,
            f"{url!r} is not a federation URL like https://node.example.org:8443 "
            "or http://<56 characters>.onion",
        )
    scheme, _, kind = split
    if scheme == "http" and kind == "public":
        raise InvalidField(
            field_name,
            f"{url!r} uses plain http, which is only for .onion and loopback addresses; use https",
        )
    parts = urllib.parse.urlsplit(url)
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise InvalidField(field_name, f"{url!r} must not have a query or fragment")
    if parts.path and not parts.path.startswith("/"):
        raise InvalidField(field_name, f"{url!r} has a path that does not start with /")
    if not _is_plain_path(parts.path):
        raise InvalidField(
            field_name,
            f"{url!r} has a path that is not plain: use segments of letters, digits"
            " and - . _ ~ only, like /alerts/federation",
        )
    return url


def _is_plain_path(path: str) -> bool:
    """Whether ``path`` is one a client sends exactly as written: no percent-escapes,
    no empty, "." or ".." segments (an HTTP library may rewrite those, and the path
    sent is the path signed, docs/protocol.md section 10)."""
    segments = path.strip("/").split("/") if path.strip("/") else []
    if path.startswith("//") or path.endswith("//"):
        return False
    return all(_PATH_SEGMENT_RE.fullmatch(seg) and seg not in (".", "..") for seg in segments)


def _check_name(name: str) -> str:
    check_text("name", name)
    if "\n" in name or "\t" in name:
        raise InvalidField("name", "must be one line")
    if not name.strip():
        raise InvalidField("name", "must not be empty")
    return name


def _read_card(value: dict[str, object]) -> NodeCard:
    r = Reader(value, "node card")
    r.integer("v", VERSION, VERSION)
    name = _check_name(r.text("name", MAX_NAME_CHARS))
    key = r.blob("key", KEY_BYTES)
    raw_urls = r.items("urls", MAX_CARD_URLS)
    if not raw_urls:
        raise InvalidField("urls", "must list at least one federation URL")
    urls = []
    for url in raw_urls:
        if not isinstance(url, str):
            raise InvalidField("urls", "each URL is text")
        urls.append(check_url("urls", url))
    if len(set(urls)) != len(urls):
        raise InvalidField("urls", "must not repeat a URL")
    pins = _sorted_set(r, "pins", 1, MAX_CARD_PINS, _is_pin, "a 32-byte SPKI hash")
    created = check_hour("created", r.integer("created", 0, _MAX_TIME))
    expires = r.integer("expires", 0, _MAX_TIME)
    versions = _sorted_set(r, "versions", 1, MAX_VERSIONS, _is_version, "a version number")
    caps = _sorted_set(r, "caps", 0, MAX_CAPS, _is_cap, "a capability name")
    ext, must_understand = read_ext(r, UNDERSTOOD)
    r.finish()
    assert key is not None
    return NodeCard(
        name, key, tuple(urls), pins, created, expires, versions, caps, ext, must_understand
    )


def _is_pin(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == PIN_BYTES


def _is_version(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_VERSION


def _is_cap(value: object) -> bool:
    return isinstance(value, str) and _CAP_RE.fullmatch(value) is not None


def _sorted_set(
    r: Reader, key: str, least: int, most: int, ok: Callable[[object], bool], what: str
) -> tuple[Any, ...]:
    """A list field that is a set: ``least``..``most`` items, each ``ok``, sorted
    ascending (bytes and text by their bytes), none repeated, so it has one encoding."""
    items = r.items(key, most)
    if len(items) < least:
        raise InvalidField(key, f"must list at least {least} item(s)")
    if not all(ok(item) for item in items):
        raise InvalidField(key, f"each item must be {what}")
    if list(items) != sorted(set(items), key=_order):
        raise InvalidField(key, "must be sorted and must not repeat an item")
    return items


def _order(value: Any) -> Any:
    """Set order: numbers by value, bytes bytewise, text by its UTF-8 bytes."""
    return value.encode() if isinstance(value, str) else value


def negotiate(ours: tuple[int, ...], theirs: tuple[int, ...]) -> int:
    """The protocol version two nodes use: the highest that both cards list.

    Raises InvalidField (field ``versions``) when they share none.
    """
    common = set(ours) & set(theirs)
    if not common:
        raise InvalidField(
            "versions",
            f"that node speaks protocol versions {list(theirs)} and this one "
            f"{list(ours)}; one of them must be updated",
        )
    return max(common)


def _day(t: int) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.UTC).date().isoformat()


def _check_validity(card: NodeCard, now: int) -> None:
    if card.created > now + MAX_CLOCK_SKEW_S:
        raise InvalidField("created", "is in the future; check this computer's clock")
    if card.expires <= card.created:
        raise InvalidField("expires", "must be after created")
    if card.expires - card.created > MAX_CARD_VALIDITY_S:
        raise InvalidField(
            "expires", f"a card is valid for at most {MAX_CARD_VALIDITY_S // DAY_S} days"
        )
    if card.expires <= now:
        raise InvalidField(
            "expires",
            f"this node card expired on {_day(card.expires)}; ask its admin for a new one",
        )


def verify_card(data: bytes, now: int, limits: Limits = CARD_LIMITS) -> VerifiedCard:
    """Check a card envelope received as ``data`` at time ``now``.

    Raises LimitExceeded, MalformedObject, BadSignature or InvalidField.
    """
    env = open_envelope(data, Kind.CARD, limits)
    card = _read_card(decode_body(env, limits))
    if card.key != env.signer:
        raise InvalidField("key", "is not the key that signed the card")
    _check_validity(card, now)
    negotiate(SUPPORTED_VERSIONS, card.versions)
    return VerifiedCard(env, card, Proof(env, card))


def sign_card(card: NodeCard, key: nacl.signing.SigningKey, now: int) -> VerifiedCard:
    """Self-sign ``card`` with the node's ``key``, checking it as a peer would.

    Raises LocalProtocolError if ``key`` is not the card's key, InvalidField (or
    another ProtocolError) if a peer would refuse the card.
    """
    if card.key != bytes(key.verify_key):
        raise LocalProtocolError("the card's key is not the signing key")
    return verify_card(sign(Kind.CARD, card.to_bytes(), key).to_bytes(), now)


def make_card(
    key: nacl.signing.SigningKey,
    name: str,
    urls: tuple[str, ...],
    pins: tuple[bytes, ...],
    now: int,
    valid_for_s: int = DEFAULT_CARD_VALIDITY_S,
) -> VerifiedCard:
    """Build and sign this node's card, created at ``now`` coarsened to the hour,
    listing ``pins`` (in any order; the card carries them sorted)."""
    created = coarsen_hour(now)
    card = NodeCard(
        name,
        bytes(key.verify_key),
        tuple(urls),
        tuple(sorted(set(pins))),
        created,
        created + valid_for_s,
    )
    return sign_card(card, key, now)


def encode_card_text(envelope: Envelope) -> str:
    """The one-line text form of a card envelope (for copy-paste and QR codes)."""
    if envelope.kind is not Kind.CARD:
        raise LocalProtocolError(f"a {envelope.kind.value} is not a node card")
    return CARD_TEXT_PREFIX + b64url_encode(envelope.to_bytes())


def parse_card_text(text: str, now: int) -> VerifiedCard:
    """Read and verify a card in its text form, as an admin pasted it.

    Whitespace anywhere is ignored (mail programs wrap long lines).
    Raises LimitExceeded, MalformedObject, BadSignature or InvalidField.
    """
    if not isinstance(text, str):
        raise MalformedObject("a node card is text")
    if len(text) > 2 * MAX_CARD_TEXT_CHARS:
        raise LimitExceeded(f"this node card is longer than {MAX_CARD_TEXT_CHARS} characters")
    compact = "".join(text.split())
    if not compact.startswith(CARD_TEXT_PREFIX):
        if compact.startswith("alertnode-card:"):
            raise MalformedObject(
                "this node card is in a format this version of alertnode does not read; "
                "update alertnode"
            )
        raise MalformedObject(f"this is not a node card: it should start with {CARD_TEXT_PREFIX}")
    if len(compact) > MAX_CARD_TEXT_CHARS:
        raise LimitExceeded(f"this node card is longer than {MAX_CARD_TEXT_CHARS} characters")
    data = b64url_decode(compact[len(CARD_TEXT_PREFIX) :], "node card")
    return verify_card(data, now)


def short_auth_string(key_a: bytes, key_b: bytes) -> str:
    """The six digits, like "123 456", that two admins read aloud to confirm a pairing.

    Both sides get the same string whichever key is "a". It catches a mistyped or
    mixed-up card, but not a card substituted by someone who can grind ~10**6 keys:
    ``alertnode peer add`` shows it, and it is only as good as the channel the card
    came over. Pairing (``protocol.pairing``) derives its code from a commit-then-
    reveal exchange instead, which cannot be ground.
    Raises LocalProtocolError for a key that is not 32 bytes or a node pairing with
    itself.
    """
    if len(key_a) != KEY_BYTES or len(key_b) != KEY_BYTES:
        raise LocalProtocolError("a node key is 32 bytes")
    if key_a == key_b:
        raise LocalProtocolError("a node cannot pair with itself")
    low, high = sorted((key_a, key_b))
    digest = hashlib.sha256(SAS_PURPOSE + low + high).digest()
    digits = f"{int.from_bytes(digest[:8], 'big') % 10**SAS_DIGITS:0{SAS_DIGITS}d}"
    return f"{digits[:3]} {digits[3:]}"
