"""This node's card: the signed line of text admins exchange to pair."""

from __future__ import annotations

import nacl.signing

from protocol.card import make_card


def make_card_text(
    name: str, url: str, signing_key: nacl.signing.SigningKey, pins: tuple[bytes, ...], now: int
) -> str:
    """The card for this node, signed at ``now``, valid for the protocol's default year,
    listing the TLS key pins ``pins`` (current key, and the next one once prepared)."""
    return make_card(signing_key, name, (url,), pins, now).to_text()
