"""The key store: wrap, unlock, wrong passphrase, rewrap without re-encryption."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.errors import NotANode, UsageError, WrongPassphrase
from node.keys import keystore


def test_passphrase_round_trip_and_wrong_passphrase(tmp_path: Path) -> None:
    made = keystore.create(tmp_path, "a long admin passphrase")
    opened = keystore.unlock(tmp_path, "a long admin passphrase")
    assert opened.data_key == made.data_key
    assert bytes(opened.signing_key) == bytes(made.signing_key)
    with pytest.raises(WrongPassphrase):
        keystore.unlock(tmp_path, "not the passphrase")
    assert (tmp_path / keystore.KEYSTORE_FILE).stat().st_mode & 0o777 == 0o600


def test_rewrap_keeps_the_data_key(tmp_path: Path) -> None:
    made = keystore.create(tmp_path, "first passphrase here")
    keystore.rewrap(tmp_path, "first passphrase here", "second passphrase here")
    assert keystore.unlock(tmp_path, "second passphrase here").data_key == made.data_key
    with pytest.raises(WrongPassphrase):
        keystore.unlock(tmp_path, "first passphrase here")


def test_keyfile_mode_and_move_to_passphrase(tmp_path: Path) -> None:
    made = keystore.create(tmp_path, None)
    assert keystore.mode(tmp_path) == "keyfile"
    assert keystore.unlock(tmp_path, None).data_key == made.data_key
    keystore.rewrap(tmp_path, None, "now with a passphrase")
    assert not (tmp_path / keystore.KEYFILE_FILE).exists()
    assert keystore.unlock(tmp_path, "now with a passphrase").data_key == made.data_key


def test_short_passphrase_and_missing_or_damaged_store(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        keystore.create(tmp_path, "short")
    with pytest.raises(NotANode):
        keystore.unlock(tmp_path, "whatever passphrase")
    (tmp_path / keystore.KEYSTORE_FILE).write_bytes(b"\x00garbage")
    with pytest.raises(NotANode):
        keystore.unlock(tmp_path, "whatever passphrase")
