"""Commit-then-reveal pairing: the six digits two admins read aloud.

Rule: a side reveals its card and nonce only after it holds the other side's
commitment, and a commitment that arrives after this side revealed is never used.
So whoever sits in the middle must commit to a card and nonce before seeing the
nonce that makes the code; each session gives it one guess at six digits (10**-6),
however many keys it can grind.

    nonce       = 32 random bytes, fresh per session
    commitment  = SHA-256(COMMIT_PURPOSE || u16be(len(card)) || card || nonce)
    code digest = SHA-256(CODE_PURPOSE || key_lo || key_hi
                          || SHA-256(card_lo) || SHA-256(card_hi) || nonce_lo || nonce_hi)
    code        = decimal of the first 8 digest bytes (big-endian) mod 10**6,
                  six digits with leading zeros, shown "ddd ddd"

``card`` is the exact card envelope bytes; ``lo`` is the side whose node key sorts
first bytewise. This module holds no clock and draws no randomness: the nonce is
passed in.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from .card import MAX_CARD_BYTES, SAS_DIGITS, VerifiedCard, verify_card
from .errors import LocalProtocolError, MalformedObject, RemoteProtocolError
from .signing import parse_envelope

COMMIT_PURPOSE = b"alertnode:v2:pair-commit:"
CODE_PURPOSE = b"alertnode:v2:pair-code:"
NONCE_BYTES = 32
COMMITMENT_BYTES = 32
# One pairing session keeps at most this many other sides.
MAX_SIDES = 32


class CommitmentMismatch(RemoteProtocolError):
    """A revealed card and nonce do not hash to the commitment sent before."""

    status = 403


class LateCommitment(RemoteProtocolError):
    """A commitment (or a reveal without one) that came after this side revealed."""


def commitment(card: bytes, nonce: bytes) -> bytes:
    """What a side sends first. Raises LocalProtocolError for a bad nonce or card size."""
    if len(nonce) != NONCE_BYTES:
        raise LocalProtocolError(f"a pairing nonce is {NONCE_BYTES} bytes")
    if len(card) > MAX_CARD_BYTES:
        raise LocalProtocolError("a card is at most MAX_CARD_BYTES bytes")
    return hashlib.sha256(COMMIT_PURPOSE + len(card).to_bytes(2, "big") + card + nonce).digest()


def open_commitment(commit: bytes, card: bytes, nonce: bytes, now: int) -> VerifiedCard:
    """Check a reveal against the commitment received before it, then the card.

    Raises MalformedObject (sizes), CommitmentMismatch, or what ``verify_card`` raises.
    """
    if len(commit) != COMMITMENT_BYTES or len(nonce) != NONCE_BYTES:
        raise MalformedObject("a commitment and a nonce are 32 bytes each")
    if len(card) > MAX_CARD_BYTES or not hmac.compare_digest(commitment(card, nonce), commit):
        raise CommitmentMismatch("the card and nonce revealed are not the ones committed to")
    return verify_card(card, now)


def pairing_code(card_a: bytes, nonce_a: bytes, card_b: bytes, nonce_b: bytes) -> str:
    """The six digits, "ddd ddd", from both (verified) cards and both nonces.

    Both sides get the same code whichever is "a". Raises LocalProtocolError for a
    card that does not parse as an envelope, a bad nonce, or a node pairing with itself.
    """
    sides = []
    for card, nonce in ((card_a, nonce_a), (card_b, nonce_b)):
        if len(nonce) != NONCE_BYTES:
            raise LocalProtocolError(f"a pairing nonce is {NONCE_BYTES} bytes")
        try:
            signer = parse_envelope(card).signer
        except RemoteProtocolError:
            raise LocalProtocolError("pairing codes are made from card envelopes") from None
        sides.append((signer, hashlib.sha256(card).digest(), nonce))
    (key_lo, hash_lo, nonce_lo), (key_hi, hash_hi, nonce_hi) = sorted(sides)
    if key_lo == key_hi:
        raise LocalProtocolError("a node cannot pair with itself")
    digest = hashlib.sha256(
        CODE_PURPOSE + key_lo + key_hi + hash_lo + hash_hi + nonce_lo + nonce_hi
    ).digest()
    digits = f"{int.from_bytes(digest[:8], 'big') % 10**SAS_DIGITS:0{SAS_DIGITS}d}"
    return f"{digits[:3]} {digits[3:]}"


@dataclass(frozen=True, slots=True)
class Match:
    """Another side whose reveal matched its commitment: its card and the code."""

    card: VerifiedCard
    code: str


class PairingSession:
    """One side of commit-then-reveal with any number of other sides (by an opaque id).

    Sans-I/O: the caller sends ``our_commitment`` first, feeds in what it receives,
    sends ``reveal()`` once ``ready_to_reveal``, and reads ``matches``.
    """

    def __init__(self, card: bytes, nonce: bytes) -> None:
        self._card = card
        self._nonce = nonce
        self.our_commitment = commitment(card, nonce)
        self._commitments: dict[str, bytes] = {}
        self.revealed = False
        self.matches: dict[str, Match] = {}

    @property
    def ready_to_reveal(self) -> bool:
        return not self.revealed and bool(self._commitments)

    def receive_commitment(self, side: str, commit: bytes) -> None:
        """Hold ``side``'s commitment. Raises LateCommitment after our reveal, and
        MalformedObject for a bad size or a side that changed its commitment."""
        if len(commit) != COMMITMENT_BYTES:
            raise MalformedObject("a commitment is 32 bytes")
        held = self._commitments.get(side)
        if held is not None:
            if held != commit:
                raise MalformedObject("that node changed its commitment; restart pairing")
            return
        if self.revealed:
            raise LateCommitment(
                "that node committed after this one revealed its card; restart pairing on both"
            )
        if commit == self.our_commitment:
            raise MalformedObject("that is this node's own commitment")
        if len(self._commitments) >= MAX_SIDES:
            raise MalformedObject("too many nodes are pairing at once")
        self._commitments[side] = commit

    def reveal(self) -> tuple[bytes, bytes]:
        """Our card and nonce, to send now. Raises LocalProtocolError before any
        commitment was received (revealing first would let the other side choose)."""
        if not self._commitments:
            raise LocalProtocolError("reveal only after receiving another side's commitment")
        self.revealed = True
        return self._card, self._nonce

    def receive_reveal(self, side: str, card: bytes, nonce: bytes, now: int) -> Match:
        """Check ``side``'s reveal against the commitment held for it.

        Raises LateCommitment (no commitment held), CommitmentMismatch, or what
        ``verify_card`` raises.
        """
        commit = self._commitments.get(side)
        if commit is None:
            raise LateCommitment("no commitment was received from that node before its reveal")
        verified = open_commitment(commit, card, nonce, now)
        match = Match(verified, pairing_code(self._card, self._nonce, card, nonce))
        self.matches[side] = match
        return match
