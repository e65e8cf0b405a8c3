"""Extensions: the one rule every signed object uses for content a receiver does not know.

Rule: a body carries ``ext``, a map of namespaced keys (``org.example:name``) to any
canonical value, and ``must_understand``, the sorted list of those keys without which
the object must not be used. A receiver keeps every extension it does not know, byte
for byte (it stores and relays the envelope bytes, which the signature covers), and
refuses the whole object with ``UnsupportedExtension`` (code ``unsupported_extension``,
field = the key) when a must-understand key is not one it understands. Any other key a
body does not define is still refused (``MalformedObject``): new meaning enters only
through ``ext`` or a new version ``v``.

The values are kept as their canonical msgpack bytes, so an ``Extensions`` is immutable
and re-encodes to exactly the bytes it was read from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeGuard

from .compact import Compact
from .encoding import Value, pack, unpack
from .errors import InvalidField
from .fields import Reader
from .limits import MAX_EXT_BYTES, MAX_EXT_KEY_CHARS, MAX_EXT_KEYS
from .warning import WARNING_EXT

# A namespace its author controls (a domain name, conventionally reversed: org.example),
# a colon, then a name. Lower-case ASCII only, so one extension has one spelling.
_KEY_RE = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+:[a-z0-9][a-z0-9._-]*$")

# The extensions this implementation understands. A node that learns one adds its key
# here. org.alertnode:warning: area warnings (protocol/warning.py).
UNDERSTOOD: frozenset[str] = frozenset({WARNING_EXT})


class UnsupportedExtension(InvalidField):
    """A must-understand extension is one this node does not understand."""

    code = "unsupported_extension"

    def __init__(self, key: str) -> None:
        super().__init__(key, "is a must-understand extension this node does not support")


@dataclass(frozen=True, slots=True)
class Extensions(Compact):
    """The ``ext`` map (key -> canonical msgpack bytes, sorted by key) and ``must_understand``."""

    items: tuple[tuple[str, bytes], ...] = ()
    must_understand: tuple[str, ...] = ()

    def wire(self) -> dict[str, Value]:
        """The two body keys, ready to be packed with the rest of the body."""
        return {
            "ext": {key: unpack(raw, max_bytes=MAX_EXT_BYTES) for key, raw in self.items},
            "must_understand": self.must_understand,
        }

    def get(self, key: str) -> bytes | None:
        """The canonical bytes of extension ``key``, or None."""
        return dict(self.items).get(key)

    @classmethod
    def of(cls, values: dict[str, Value], must_understand: tuple[str, ...] = ()) -> Extensions:
        """Build from decoded values (tests and future senders); checked by ``read``."""
        items = tuple((key, pack(values[key])) for key in sorted(values))
        return read_extensions(
            {key: unpack(raw, max_bytes=MAX_EXT_BYTES) for key, raw in items},
            tuple(sorted(must_understand)),
            frozenset(must_understand),
        )


EMPTY = Extensions()


def is_key(key: object) -> TypeGuard[str]:
    """Whether ``key`` is an extension key: ``org.example:name``, at most 64 characters."""
    return isinstance(key, str) and len(key) <= MAX_EXT_KEY_CHARS and bool(_KEY_RE.fullmatch(key))


def check_key(field: str, key: object) -> str:
    if not is_key(key):
        raise InvalidField(
            field,
            f"an extension key is a namespace with a dot, a colon and a name, like "
            f"org.example:name, in lower case, at most {MAX_EXT_KEY_CHARS} characters",
        )
    return key


def read_extensions(ext: object, must: object, understood: frozenset[str] | None) -> Extensions:
    """Check the decoded ``ext`` and ``must_understand`` values of a body.

    Raises InvalidField (field ``ext`` or ``must_understand``) when either breaks its
    rule, and UnsupportedExtension (field = the key) when a must-understand key is not
    in ``understood`` (None: do not ask, for what was checked when it was stored).
    """
    if not isinstance(ext, dict):
        raise InvalidField("ext", "must be a map")
    if len(ext) > MAX_EXT_KEYS:
        raise InvalidField("ext", f"has {len(ext)} keys, more than {MAX_EXT_KEYS}")
    items = tuple((check_key("ext", key), pack(ext[key])) for key in ext)
    size = len(pack(ext))
    if size > MAX_EXT_BYTES:
        raise InvalidField("ext", f"is {size} bytes, more than {MAX_EXT_BYTES}")
    if not isinstance(must, tuple):
        raise InvalidField("must_understand", "must be a list")
    keys = tuple(check_key("must_understand", key) for key in must)
    if list(keys) != sorted(set(keys)):
        raise InvalidField("must_understand", "must be sorted, without repeats")
    for key in keys:
        if key not in ext:
            raise InvalidField("must_understand", "names a key that is not in ext")
    for key in keys:
        if understood is not None and key not in understood:
            raise UnsupportedExtension(key)
    return Extensions(items, keys)


# The same rule read from and written into a body through ``fields.Reader`` (node cards).
Ext = tuple[tuple[str, bytes], ...]  # (key, canonical value bytes), sorted by key


def read_ext(r: Reader, understood: frozenset[str]) -> tuple[Ext, tuple[str, ...]]:
    """``ext`` and ``must_understand`` of a body read with ``r``, in that order (as the
    card's table lists them). Raises InvalidField, UnsupportedExtension."""
    ext = r.raw("ext")
    read = read_extensions(ext, r.raw("must_understand"), understood)
    return tuple(sorted(read.items)), read.must_understand


def ext_value(ext: Ext) -> dict[str, Value]:
    """The ``ext`` map for encoding (the values were checked when they were read)."""
    return {key: unpack(raw, max_bytes=MAX_EXT_BYTES) for key, raw in ext}


# The same rule for messages where both fields are left out when empty (the feed
# messages and the rotation statement).
OptionalExt = tuple[tuple[str, Value], ...]  # feed messages: omitted when empty


def pop_optional_ext(
    body: dict[str, object], understood: frozenset[str] = frozenset()
) -> OptionalExt:
    """Take the optional ``ext`` and ``must_understand`` fields out of ``body``.

    ``ext`` is kept (sorted by key) and otherwise ignored. Raises InvalidField for a
    bad key, an empty map or list (they are omitted instead), a ``must_understand``
    that is not sorted without repeats (one message, one encoding) or names a key not
    in ``ext``; UnsupportedExtension for the first name not in ``understood``.
    """
    ext: OptionalExt = ()
    raw = body.pop("ext", None)
    if raw is not None:
        if not isinstance(raw, dict) or not raw:
            raise InvalidField("ext", "is a non-empty map, or left out")
        # The one rule of every ext (docs/protocol.md section 5a), whatever limits the
        # message's decoder had: a rotation statement's are the body's, looser.
        if len(raw) > MAX_EXT_KEYS:
            raise InvalidField("ext", f"has {len(raw)} keys, more than {MAX_EXT_KEYS}")
        for key in raw:
            check_key("ext", key)
        size = len(pack(raw))
        if size > MAX_EXT_BYTES:
            raise InvalidField("ext", f"is {size} bytes, more than {MAX_EXT_BYTES}")
        ext = tuple((k, raw[k]) for k in sorted(raw))
    must = body.pop("must_understand", None)
    if must is not None:
        if not isinstance(must, tuple) or not must or list(must) != sorted(set(must)):
            raise InvalidField("must_understand", "is a non-empty list, sorted, without repeats")
        keys = {k for k, _ in ext}
        if any(not isinstance(name, str) or name not in keys for name in must):
            raise InvalidField("must_understand", "names only keys present in ext")
        unknown = [name for name in must if name not in understood]
        if unknown:
            raise UnsupportedExtension(unknown[0])
    return ext


def optional_ext_wire(ext: OptionalExt) -> dict[str, Value]:
    """The ``ext`` field as it goes out: omitted when empty."""
    return {"ext": dict(ext)} if ext else {}
