"""Making this node's card (placeholder until protocol/card.py lands)."""

from __future__ import annotations

from typing import Any

from .config import Config


def make_card_text(cfg: Config, signing_key: Any, fingerprint: bytes, now: int) -> str:
    return f"alertnode-card-pending:{cfg.key}"
