"""This node's card: the signed line of text admins exchange to pair."""

from __future__ import annotations

import nacl.signing

from protocol.card import make_card


def make_card_text(
    name: str, url: str, signing_key: nacl.signing.SigningKey, fingerprint: bytes | None, now: int
) -> str:
    """The card for this node, signed at ``now``, valid for the protocol's default year."""
    return make_card(signing_key, name, (url,), fingerprint, now).to_text()
