"""Compact pickling for the objects the verification pool sends back.

Rule: a ``Compact`` object pickles as its class and the values of its slots, in slot
order, and is rebuilt by setting those slots on a bare instance, the way the
dataclass pickling it replaces did (neither runs ``__init__``). The difference is
cost: dataclasses look up the class's fields on every object rebuilt, which made
unpickling a verified alert cost more than a tenth of verifying it. Identity within
one pickle is kept (pickle's memo), so a ``Proof`` still names the very envelope and
body of its ``Verified`` object. A verified alert, by far the most common object a
worker sends back, goes further: the whole tree is one flat tuple of plain values,
rebuilt in one call (``protocol.alert``). Only for objects passed between this
node's own processes: never unpickle anything received from elsewhere.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Compact", "restore"]

# Per class: its slot names, and the slot descriptors that set them.
_SLOTS: dict[type, tuple[tuple[str, ...], tuple[Any, ...]]] = {}


def _slots(cls: type) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    found = _SLOTS.get(cls)
    if found is None:
        names: list[str] = []
        setters: list[Any] = []
        for klass in reversed(cls.__mro__):
            slots = klass.__dict__.get("__slots__", ())
            for name in (slots,) if isinstance(slots, str) else slots:
                if name not in ("__weakref__", "__dict__") and name not in names:
                    names.append(name)
                    setters.append(klass.__dict__[name].__set__)
        found = _SLOTS[cls] = (tuple(names), tuple(setters))
    return found


def restore(cls: type, values: tuple[Any, ...]) -> Any:
    """A ``cls`` with its slots set to ``values`` (in slot order, every slot), without
    running ``__init__``: how a ``Compact`` object is unpickled, and how a class that
    pickles a whole tree of objects as one flat tuple rebuilds it in one call
    (``VerifiedAlert``)."""
    obj: Any = object.__new__(cls)
    for setter, value in zip(_slots(cls)[1], values, strict=True):
        setter(obj, value)
    return obj


class Compact:
    """Mixin for slotted (frozen) dataclasses: the pickling described above."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, tuple[type, tuple[Any, ...]]]:
        cls = type(self)
        return restore, (cls, tuple(getattr(self, name) for name in _slots(cls)[0]))
