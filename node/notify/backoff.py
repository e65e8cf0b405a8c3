"""The wait before a failed delivery is tried again, shared by the outbox and the
partner webhook queue.

Rule: waits double from ``FIRST_RETRY_S`` to ``MAX_RETRY_S`` with jitter over the
upper half of each wait, so many failed deliveries never retry in step.
"""

from __future__ import annotations

import random

from protocol.limits import HOUR_S

FIRST_RETRY_S = 30
MAX_RETRY_S = 6 * HOUR_S

__all__ = ["FIRST_RETRY_S", "MAX_RETRY_S", "backoff_s"]


def backoff_s(attempts: int, rng: random.Random) -> int:
    """The wait before try ``attempts + 1``: doubling from ``FIRST_RETRY_S`` to
    ``MAX_RETRY_S``, with full jitter on its upper half (so retries spread out)."""
    ceiling = min(FIRST_RETRY_S * 2 ** max(0, attempts - 1), MAX_RETRY_S)
    return int(ceiling / 2 + rng.random() * ceiling / 2)
