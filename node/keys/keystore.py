"""The key store: the data key, wrapped, and the node's secrets sealed under it.

Rule: the data key exists in plaintext only in memory of an unlocked node. On disk it
is wrapped (XChaCha20-Poly1305) by a key derived from the admin passphrase with
Argon2id, or, in development mode, by a random key kept in ``data.key`` beside it.
Everything else secret (the node's signing key, its TLS key password, the network
blinding keys) is sealed under the data key. Changing the passphrase rewraps the data
key and re-encrypts nothing.

File ``keys.bin`` (msgpack map): v, mode ("passphrase" | "keyfile"), salt, opslimit,
memlimit, wrapped (nonce || ciphertext of the data key), signing (sealed seed),
previous (sealed older seeds), network (the sealed msgpack list of network blinding
keys, ``[[secret, epoch], ...]``; see ``protocol.indicators.NetworkKey``), duress.

Duress: ``duress`` is a map {salt, opslimit, memlimit, check}; ``check`` is 32 random
bytes sealed (XChaCha20-Poly1305) under a key derived with Argon2id from the duress
passphrase and ``salt``, so it opens only with that passphrase. A node without one
holds a decoy of the same shape (random bytes sealed under a random key that nobody
keeps), so the file does not tell whether a duress passphrase is set. Every
passphrase that does not open the data key is tried against ``check`` (the same
Argon2id work whether it is wrong or the duress one); the duress passphrase raises
``DuressPassphrase``, which carries the wrong passphrase's message, and the node
wipes itself (``node.app.Node``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgpack
import nacl.exceptions
import nacl.pwhash.argon2id as argon2id
import nacl.secret
import nacl.signing
import nacl.utils

from protocol.indicators import NETWORK_KEY_BYTES, NetworkKey

from ..errors import DuressPassphrase, NotANode, UsageError, WrongPassphrase
from ..files import write_private

KEYSTORE_FILE = "keys.bin"
KEYFILE_FILE = "data.key"
KEY_BYTES = 32
# About 80 ms here: paid once per unlock, and per guess by anyone who steals the disk.
WRAP_OPSLIMIT = 3
WRAP_MEMLIMIT_BYTES = 64 * 1024 * 1024
MIN_PASSPHRASE_CHARS = 10
_WRAP_AD = b"alertnode:v1:wrapped-data-key"
_SIGNING_AD = b"alertnode:v1:signing-seed"
_NETWORK_AD = b"alertnode:v2:network-keys"
_DURESS_AD = b"alertnode:v1:duress-check"
# The one answer to a passphrase that does not open the key store, duress or not.
WRONG_PASSPHRASE_MESSAGE = "that passphrase does not unlock this node"  # noqa: S105 (a message)
# A node holds at most this many network blinding keys (federation.netkeys caps it too).
MAX_STORED_NETWORK_KEYS = 64
# keys.bin grows with the network keys it seals; no field may be larger than this.
_MAX_FIELD_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True)
class OpenedKeys:
    """What an opened key store yields (node.app.NodeKeys holds it while unlocked)."""

    data_key: bytes
    signing_key: nacl.signing.SigningKey
    # Keys this node signed with before a rotation: kept to retract its older alerts.
    previous: tuple[nacl.signing.SigningKey, ...] = ()
    # The network blinding keys this node holds (empty only for a pre-v2 key store).
    network: tuple[NetworkKey, ...] = ()


def _seal_network(data_key: bytes, keys: tuple[NetworkKey, ...]) -> bytes:
    plain = msgpack.packb([[k.secret, k.epoch] for k in keys], use_bin_type=True)
    return bytes(nacl.secret.Aead(data_key).encrypt(plain, _NETWORK_AD))


def _open_network(data_key: bytes, sealed: object) -> tuple[NetworkKey, ...]:
    """Raises NotANode when the sealed set does not open or decode."""
    if sealed is None:
        return ()
    try:
        assert isinstance(sealed, bytes)
        plain = nacl.secret.Aead(data_key).decrypt(sealed, _NETWORK_AD)
        items = msgpack.unpackb(plain, raw=False, max_bin_len=NETWORK_KEY_BYTES)
        return tuple(NetworkKey(bytes(secret), int(epoch)) for secret, epoch in items)
    except (AssertionError, nacl.exceptions.CryptoError, ValueError, TypeError):
        raise NotANode("the key store is damaged") from None


def new_network_key() -> NetworkKey:
    """A fresh network blinding key (epoch 0): a network of one, as ``init`` makes."""
    return NetworkKey(nacl.utils.random(NETWORK_KEY_BYTES), 0)


def _derive(passphrase: str, salt: bytes, ops: int, mem: int) -> bytes:
    return argon2id.kdf(KEY_BYTES, passphrase.encode(), salt, opslimit=ops, memlimit=mem)


# (passphrase, salt, opslimit, memlimit) -> key; tests pass one that counts the work.
Derive = Callable[[str, bytes, int, int], bytes]


def check_passphrase_strength(passphrase: str) -> None:
    """Raise UsageError for a passphrase too short to protect a seized disk."""
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise UsageError(
            f"the passphrase must have at least {MIN_PASSPHRASE_CHARS} characters; "
            "a few random words are best"
        )


def read_passphrase_file(path: str) -> str:
    """The passphrase in ``path`` (its first line). Raises UsageError."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        raise UsageError("the passphrase file cannot be read") from None
    except UnicodeDecodeError:
        raise UsageError("the passphrase file is not UTF-8 text") from None
    passphrase = text.splitlines()[0] if text else ""
    if not passphrase:
        raise UsageError("the passphrase file is empty")
    return passphrase


def _wrap(data_key: bytes, wrapping_key: bytes) -> bytes:
    return bytes(nacl.secret.Aead(wrapping_key).encrypt(data_key, _WRAP_AD))


def _duress_entry(passphrase: str | None) -> dict[str, object]:
    """A duress verifier for ``passphrase``, or (None) a decoy of the same shape."""
    salt = nacl.utils.random(argon2id.SALTBYTES)
    if passphrase is None:
        key = nacl.utils.random(KEY_BYTES)  # kept by nobody: the decoy opens for no one
    else:
        key = _derive(passphrase, salt, WRAP_OPSLIMIT, WRAP_MEMLIMIT_BYTES)
    check = nacl.secret.Aead(key).encrypt(nacl.utils.random(KEY_BYTES), _DURESS_AD)
    return {
        "salt": salt,
        "opslimit": WRAP_OPSLIMIT,
        "memlimit": WRAP_MEMLIMIT_BYTES,
        "check": bytes(check),
    }


def _is_duress(doc: dict[str, object], passphrase: str, derive: Derive = _derive) -> bool:
    """Whether ``passphrase`` opens the duress verifier: one Argon2id derivation, the
    same for every passphrase (a key store from before duress is checked against a
    throwaway decoy, so the work is the same there too)."""
    entry = doc.get("duress")
    if not isinstance(entry, dict):
        entry = _duress_entry(None)
    salt, ops, mem, check = (entry.get(k) for k in ("salt", "opslimit", "memlimit", "check"))
    if not (isinstance(salt, bytes) and isinstance(check, bytes)):
        raise NotANode("the key store is damaged")
    if not (isinstance(ops, int) and isinstance(mem, int)):
        raise NotANode("the key store is damaged")
    try:
        nacl.secret.Aead(derive(passphrase, salt, ops, mem)).decrypt(check, _DURESS_AD)
    except (nacl.exceptions.CryptoError, ValueError):
        return False
    return True


def spend_like_a_wrong_guess(passphrase: str | None, derive: Derive = _derive) -> None:
    """The slow work a wrong passphrase costs (two Argon2id derivations), for a node
    that has nothing left to check against (after a duress wipe)."""
    for _ in range(2):
        derive(passphrase or "", nacl.utils.random(argon2id.SALTBYTES), WRAP_OPSLIMIT,
                WRAP_MEMLIMIT_BYTES)  # fmt: skip


def _save(data_dir: Path, doc: dict[str, object]) -> None:
    """Write ``doc`` as keys.bin; a key store from before duress gets its decoy here."""
    if not isinstance(doc.get("duress"), dict):
        doc["duress"] = _duress_entry(None)
    write_private(data_dir / KEYSTORE_FILE, msgpack.packb(doc, use_bin_type=True))


def create(data_dir: Path, passphrase: str | None) -> OpenedKeys:
    """Make a new key store in ``data_dir``; ``None`` means development key-file mode."""
    data_key = nacl.utils.random(KEY_BYTES)
    signing_key = nacl.signing.SigningKey.generate()
    salt = nacl.utils.random(argon2id.SALTBYTES)
    if passphrase is None:
        wrapping_key = nacl.utils.random(KEY_BYTES)
        write_private(data_dir / KEYFILE_FILE, wrapping_key)
        mode = "keyfile"
    else:
        check_passphrase_strength(passphrase)
        wrapping_key = _derive(passphrase, salt, WRAP_OPSLIMIT, WRAP_MEMLIMIT_BYTES)
        mode = "passphrase"
    sealed_seed = nacl.secret.Aead(data_key).encrypt(bytes(signing_key), _SIGNING_AD)
    network = (new_network_key(),)
    doc = {
        "v": 1,
        "mode": mode,
        "salt": salt,
        "opslimit": WRAP_OPSLIMIT,
        "memlimit": WRAP_MEMLIMIT_BYTES,
        "wrapped": _wrap(data_key, wrapping_key),
        "signing": bytes(sealed_seed),
        "network": _seal_network(data_key, network),
        "duress": _duress_entry(None),
    }
    _save(data_dir, doc)
    return OpenedKeys(data_key, signing_key, (), network)


def _load(data_dir: Path) -> dict[str, object]:
    try:
        raw = (data_dir / KEYSTORE_FILE).read_bytes()
    except FileNotFoundError:
        raise NotANode(
            f"{data_dir} holds no alertnode key store; run 'alertnode init' first"
        ) from None
    try:
        doc = msgpack.unpackb(raw, raw=False, max_bin_len=_MAX_FIELD_BYTES, max_str_len=64)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
        raise NotANode("the key store is damaged or was wiped") from None
    if not isinstance(doc, dict) or doc.get("v") != 1:
        raise NotANode("the key store is damaged or was wiped")
    return doc


def mode(data_dir: Path) -> str:
    """'passphrase' or 'keyfile'. Raises NotANode."""
    return str(_load(data_dir)["mode"])


def unlock(data_dir: Path, passphrase: str | None, derive: Derive = _derive) -> OpenedKeys:
    """Unwrap the data key.

    Raises NotANode, WrongPassphrase, UsageError, or DuressPassphrase (a
    WrongPassphrase, with the same message) for the duress passphrase.
    """
    doc = _load(data_dir)
    if doc["mode"] == "keyfile":
        try:
            wrapping_key = (data_dir / KEYFILE_FILE).read_bytes()
        except FileNotFoundError:
            raise NotANode("the key file data.key is missing") from None
    else:
        if passphrase is None:
            raise UsageError("this node is protected by a passphrase; give --passphrase-file")
        salt, ops, mem = doc["salt"], doc["opslimit"], doc["memlimit"]
        assert isinstance(salt, bytes) and isinstance(ops, int) and isinstance(mem, int)
        wrapping_key = derive(passphrase, salt, ops, mem)
    wrapped, sealed = doc["wrapped"], doc["signing"]
    assert isinstance(wrapped, bytes) and isinstance(sealed, bytes)
    try:
        data_key = nacl.secret.Aead(wrapping_key).decrypt(wrapped, _WRAP_AD)
    except (nacl.exceptions.CryptoError, ValueError):
        if doc["mode"] == "keyfile":
            raise NotANode("the key file does not open this key store") from None
        assert passphrase is not None
        if _is_duress(doc, passphrase, derive):
            raise DuressPassphrase(WRONG_PASSPHRASE_MESSAGE) from None
        raise WrongPassphrase(WRONG_PASSPHRASE_MESSAGE) from None
    box = nacl.secret.Aead(data_key)
    try:
        seed = box.decrypt(sealed, _SIGNING_AD)
        previous = tuple(
            nacl.signing.SigningKey(bytes(box.decrypt(old, _SIGNING_AD)))
            for old in doc.get("previous", [])  # type: ignore[attr-defined]
        )
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise NotANode("the key store is damaged") from None
    network = _open_network(bytes(data_key), doc.get("network"))
    return OpenedKeys(bytes(data_key), nacl.signing.SigningKey(bytes(seed)), previous, network)


def save_network_keys(data_dir: Path, data_key: bytes, keys: tuple[NetworkKey, ...]) -> None:
    """Seal ``keys`` as the node's whole set of network blinding keys.

    Raises NotANode, or UsageError when the set is larger than a node keeps.
    """
    if len(keys) > MAX_STORED_NETWORK_KEYS:
        raise UsageError("this node already holds too many network keys")
    doc = _load(data_dir)
    doc["network"] = _seal_network(data_key, keys)
    _save(data_dir, doc)


MAX_PREVIOUS_KEYS = 16


def rotate_signing_key(data_dir: Path, data_key: bytes, new: nacl.signing.SigningKey) -> None:
    """Make ``new`` the node's signing key, keeping the current one among the previous.

    Raises NotANode (or UsageError when too many keys were rotated away).
    """
    doc = _load(data_dir)
    previous = list(doc.get("previous", []))  # type: ignore[call-overload]
    if len(previous) >= MAX_PREVIOUS_KEYS:
        raise UsageError("this node has rotated its key too many times to keep the old ones")
    box = nacl.secret.Aead(data_key)
    doc["previous"] = [*previous, doc["signing"]]
    doc["signing"] = bytes(box.encrypt(bytes(new), _SIGNING_AD))
    _save(data_dir, doc)


def rewrap(data_dir: Path, old: str | None, new: str) -> None:
    """Change the passphrase (or move from key-file mode to a passphrase).

    Only the wrapped data key changes; no data is re-encrypted (the duress verifier,
    under its own salt, stays). Raises WrongPassphrase (DuressPassphrase when ``old``
    is the duress passphrase), UsageError or NotANode.
    """
    check_passphrase_strength(new)
    unlocked = unlock(data_dir, old)
    doc = _load(data_dir)
    if _is_duress(doc, new):
        raise UsageError("the admin passphrase must differ from the duress passphrase")
    salt = nacl.utils.random(argon2id.SALTBYTES)
    doc.update(
        mode="passphrase",
        salt=salt,
        opslimit=WRAP_OPSLIMIT,
        memlimit=WRAP_MEMLIMIT_BYTES,
        wrapped=_wrap(unlocked.data_key, _derive(new, salt, WRAP_OPSLIMIT, WRAP_MEMLIMIT_BYTES)),
    )
    _save(data_dir, doc)
    keyfile = data_dir / KEYFILE_FILE
    if keyfile.exists():
        overwrite_and_remove(keyfile)


def set_duress(data_dir: Path, passphrase: str | None) -> None:
    """Set the duress passphrase, or (None) replace it with a decoy.

    Raises UsageError (a key-file node, a passphrase too short or equal to the admin
    passphrase) or NotANode.
    """
    doc = _load(data_dir)
    if doc["mode"] != "passphrase":
        raise UsageError(
            "a node without an admin passphrase has no duress passphrase; "
            "set an admin passphrase first with 'alertnode passphrase change'"
        )
    if passphrase is not None:
        check_passphrase_strength(passphrase)
        salt, ops, mem, wrapped = doc["salt"], doc["opslimit"], doc["memlimit"], doc["wrapped"]
        assert isinstance(salt, bytes) and isinstance(ops, int) and isinstance(mem, int)
        assert isinstance(wrapped, bytes)
        try:
            nacl.secret.Aead(_derive(passphrase, salt, ops, mem)).decrypt(wrapped, _WRAP_AD)
        except (nacl.exceptions.CryptoError, ValueError):
            pass
        else:
            raise UsageError("the duress passphrase must differ from the admin passphrase")
    doc["duress"] = _duress_entry(passphrase)
    _save(data_dir, doc)


def overwrite_and_remove(path: Path) -> None:
    """Overwrite a small secret file with random bytes, sync, then unlink it."""
    try:
        size = path.stat().st_size
        with path.open("r+b") as f:
            f.write(os.urandom(max(size, 1)))
            f.flush()
            os.fsync(f.fileno())
        path.unlink()
    except FileNotFoundError:
        pass
