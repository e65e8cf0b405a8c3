"""Extension maps: how a signed body carries fields a receiver may not know.

Rule: ``ext`` is a map of namespaced keys whose values a receiver that does not know
them ignores but keeps: the body is stored and relayed as the exact bytes that were
signed, and a body rebuilt from its fields re-encodes ``ext`` to the same bytes (the
encoding is canonical). ``must_understand`` lists the ``ext`` keys a receiver must
know to use the object at all; one it does not know refuses the whole object with
``UnsupportedExtension`` (code ``unsupported_extension``).

    ext             = map {key: any value}, at most MAX_EXT_KEYS pairs, keys matching
                      EXT_KEY_RE ("<reverse-domain namespace>/<name>", e.g.
                      "org.example/colour"), the packed map at most MAX_EXT_BYTES
    must_understand = array of str, each a key of ext, sorted, none repeated
"""

from __future__ import annotations

import re
from collections.abc import Collection

from .encoding import Value, pack, unpack
from .errors import InvalidField, RemoteProtocolError
from .fields import Reader

MAX_EXT_KEYS = 8
MAX_EXT_BYTES = 512
EXT_KEY_RE = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)+/[a-z0-9][a-z0-9_-]{0,31}")


class UnsupportedExtension(RemoteProtocolError):
    """An object names an extension in ``must_understand`` that this node does not know."""

    code = "unsupported_extension"
    status_hint = 422


Ext = tuple[tuple[str, bytes], ...]  # (key, packed value) sorted by key


def read_ext(r: Reader, understood: Collection[str]) -> tuple[Ext, tuple[str, ...]]:
    """Read ``ext`` and ``must_understand`` from ``r``.

    Raises InvalidField for a malformed map or list, UnsupportedExtension for a
    must-understand key not in ``understood``.
    """
    raw = r.raw("ext")
    if not isinstance(raw, dict):
        raise InvalidField("ext", "must be a map (empty when there is nothing to add)")
    if len(raw) > MAX_EXT_KEYS:
        raise InvalidField("ext", f"has more than {MAX_EXT_KEYS} keys")
    if len(pack(raw)) > MAX_EXT_BYTES:
        raise InvalidField("ext", f"is more than {MAX_EXT_BYTES} bytes")
    for key in raw:
        if not EXT_KEY_RE.fullmatch(key):
            raise InvalidField("ext", f"{key!r} is not a namespaced key like org.example/name")
    ext = tuple(sorted((key, pack(value)) for key, value in raw.items()))
    listed = r.items("must_understand", MAX_EXT_KEYS)
    names: list[str] = []
    for name in listed:
        if not isinstance(name, str) or name not in raw:
            raise InvalidField("must_understand", "each item must be a key of ext")
        names.append(name)
    if names != sorted(set(names)):
        raise InvalidField("must_understand", "must be sorted and must not repeat a key")
    unknown = [name for name in names if name not in understood]
    if unknown:
        raise UnsupportedExtension(
            f"unsupported_extension: this node does not support {', '.join(unknown)}; "
            "update alertnode"
        )
    return ext, tuple(names)


def ext_value(ext: Ext) -> dict[str, Value]:
    """The ``ext`` map for encoding (values decode without limits: they were checked)."""
    return {key: unpack(packed) for key, packed in ext}
