"""Reading a JSON body that a program sent (partner platforms, SMS gateways).

Rule: ``loads`` either returns a value every later step can handle (encode as UTF-8,
store, render, answer) or raises ValueError: nesting past the decoder's recursion
limit and strings holding lone surrogates (which JSON's ``\\udc00`` escapes allow but
no UTF-8 page or answer can carry) are refused here, not discovered by a 500 later.
"""

from __future__ import annotations

import json
from typing import Any


def loads(raw: bytes) -> Any:
    """The JSON value in ``raw``. Raises ValueError (not JSON, too deep, or text
    that is not valid Unicode)."""
    try:
        value = json.loads(raw)
        # Lone surrogates survive json.loads but not encoding; check once, here.
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except UnicodeError:
        raise ValueError("not valid Unicode") from None
    return value
