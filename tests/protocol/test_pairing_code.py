"""Commit-then-reveal pairing: the code cannot be chosen by whoever swaps cards."""

from __future__ import annotations

import hashlib

import nacl.signing
import pytest

from protocol.card import make_card
from protocol.errors import LocalProtocolError
from protocol.pairing import (
    CommitmentMismatch,
    LateCommitment,
    PairingSession,
    commitment,
    open_commitment,
    pairing_code,
)

from . import KEY_A, KEY_B, NOW

KEY_M = nacl.signing.SigningKey(bytes(range(64, 96)))
PIN = hashlib.sha256(b"spki").digest()
NONCE_A = bytes(range(100, 132))
NONCE_B = bytes(range(150, 182))


def card(key: nacl.signing.SigningKey, name: str) -> bytes:
    return make_card(key, name, ("https://n.example.org",), (PIN,), NOW).envelope.to_bytes()


CARD_A, CARD_B, CARD_M = card(KEY_A, "A"), card(KEY_B, "B"), card(KEY_M, "B")
# The golden code and commitment, with their derivation: tests/vectors/pairing.json
# (tests/protocol/test_object_vectors.py).


def test_both_sides_of_an_honest_session_read_the_same_code() -> None:
    a, b = PairingSession(CARD_A, NONCE_A), PairingSession(CARD_B, NONCE_B)
    a.receive_commitment("b", b.our_commitment)
    b.receive_commitment("a", a.our_commitment)
    match_b = b.receive_reveal("a", *a.reveal(), NOW)
    match_a = a.receive_reveal("b", *b.reveal(), NOW)
    assert match_a.code == match_b.code == pairing_code(CARD_A, NONCE_A, CARD_B, NONCE_B)
    assert match_a.card.key == bytes(KEY_B.verify_key)


def test_a_reveal_that_does_not_match_its_commitment_is_refused() -> None:
    a = PairingSession(CARD_A, NONCE_A)
    a.receive_commitment("b", commitment(CARD_B, NONCE_B))
    a.reveal()
    with pytest.raises(CommitmentMismatch):
        a.receive_reveal("b", CARD_M, NONCE_B, NOW)  # another card
    with pytest.raises(CommitmentMismatch):
        a.receive_reveal("b", CARD_B, bytes(32), NOW)  # another nonce
    with pytest.raises(CommitmentMismatch):
        open_commitment(commitment(CARD_B, NONCE_B), CARD_M, NONCE_B, NOW)
    assert a.matches == {}


def test_nobody_reveals_first_and_late_commitments_are_not_used() -> None:
    a = PairingSession(CARD_A, NONCE_A)
    with pytest.raises(LocalProtocolError):
        a.reveal()
    a.receive_commitment("b", commitment(CARD_B, NONCE_B))
    a.reveal()
    # Someone who saw NONCE_A could choose a nonce for a code; their commitment is late.
    with pytest.raises(LateCommitment):
        a.receive_commitment("m", commitment(CARD_M, bytes(32)))
    with pytest.raises(LateCommitment):
        a.receive_reveal("m", CARD_M, bytes(32), NOW)


def test_a_man_in_the_middle_cannot_choose_the_code() -> None:
    """M swaps cards: it must commit to A before A reveals, and to B before B does.
    However M grinds keys and nonces, the code A shows then depends on NONCE_A and the
    code B shows on NONCE_B, each unknown when M committed: a grind of 2,000 tries
    that matches one code fixes nothing about the other."""
    a = PairingSession(CARD_A, NONCE_A)
    b = PairingSession(CARD_B, NONCE_B)
    nonce_m = bytes(32)
    # M commits to A (posing as B) and to B (posing as A) before either reveals.
    a.receive_commitment("b", commitment(CARD_M, nonce_m))
    b.receive_commitment("a", commitment(CARD_M, nonce_m))
    code_a = a.receive_reveal("b", CARD_M, nonce_m, NOW).code
    code_b = b.receive_reveal("a", CARD_M, nonce_m, NOW).code
    assert code_a != code_b  # one fixed chance in 10**6, and not this one
    # After the reveals M knows both nonces, but its commitments are spent: a reveal
    # of a ground nonce is refused, and so is a second commitment.
    with pytest.raises(CommitmentMismatch):
        a.receive_reveal("b", CARD_M, bytes([1]) * 32, NOW)
    a.reveal()
    with pytest.raises(LateCommitment):
        a.receive_commitment("m2", commitment(CARD_M, bytes([2]) * 32))
    # The code changes with the nonce M would have to guess: M cannot aim for it.
    codes = {pairing_code(CARD_A, bytes([i]) * 32, CARD_M, nonce_m) for i in range(200)}
    assert len(codes) > 190


def test_sizes_and_self_pairing_are_refused() -> None:
    with pytest.raises(LocalProtocolError):
        commitment(CARD_A, b"short")
    with pytest.raises(LocalProtocolError):
        pairing_code(CARD_A, NONCE_A, CARD_A, NONCE_B)
