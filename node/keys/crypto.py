"""Row encryption and keyed index columns.

Rule: every sensitive column is sealed with XChaCha20-Poly1305 under a subkey of the
data key, with the row's identity (table, column, row key) as associated data, so a
ciphertext moved to another row or column fails to open. Lookup columns hold keyed
BLAKE2b tags, never plaintext or bare blinded values: without the data key a seized
database cannot even be tested against a guessed phone number.
"""

from __future__ import annotations

import hashlib

import nacl.exceptions
import nacl.secret

from ..errors import StoreError

TAG_BYTES = 16


def _subkey(data_key: bytes, purpose: bytes) -> bytes:
    return hashlib.blake2b(purpose, key=data_key, digest_size=32, person=b"alertnode-v1").digest()


class RowCrypto:
    """Seals and opens column values, and computes keyed lookup tags."""

    def __init__(self, data_key: bytes) -> None:
        self._aead = nacl.secret.Aead(_subkey(data_key, b"rows"))
        self._index_key = _subkey(data_key, b"index")

    @staticmethod
    def _ad(table: str, column: str, row: bytes | int | str) -> bytes:
        if isinstance(row, int):
            row = str(row)
        if isinstance(row, str):
            row = row.encode()
        return f"{table}.{column}:".encode() + row

    def seal(self, table: str, column: str, row: bytes | int | str, plaintext: bytes) -> bytes:
        return bytes(self._aead.encrypt(plaintext, self._ad(table, column, row)))

    def open(self, table: str, column: str, row: bytes | int | str, sealed: bytes) -> bytes:
        """Raises StoreError if the value was tampered with or moved."""
        try:
            return bytes(self._aead.decrypt(sealed, self._ad(table, column, row)))
        except (nacl.exceptions.CryptoError, ValueError):
            raise StoreError(f"a sealed {table}.{column} value does not open") from None

    def tag(self, purpose: str, value: bytes) -> bytes:
        """A keyed tag of ``value`` for an index column named by ``purpose``."""
        return hashlib.blake2b(
            value,
            key=self._index_key,
            digest_size=TAG_BYTES,
            salt=b"",
            person=purpose.encode()[:16],
        ).digest()
