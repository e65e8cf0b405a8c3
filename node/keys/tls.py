"""The node's self-signed TLS certificate for the federation port.

Rule: peers pin the TLS *key*, by the SHA-256 of the certificate's
SubjectPublicKeyInfo (the card's ``pins``), never the certificate, so no certificate
authority is involved and a renewed certificate on the same key needs nothing from
any peer. A certificate is valid for VALIDITY_DAYS and renewed with the same key once
fewer than RENEW_BEFORE_DAYS remain. A new TLS key is first made as the *next* key
(its pin goes into the card and a pin statement before it is used) and only then
switched to. Private keys are stored as encrypted PKCS#8 whose password is derived
from the data key: a locked node's disk holds no usable TLS key. The certificate's names are random
per node and say nothing about the software: a scanner that reads them learns no more
than from any other self-signed certificate.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ..files import write_private

CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"
NEXT_CERT_FILE = "tls-next.crt"
NEXT_KEY_FILE = "tls-next.key"
VALIDITY_DAYS = 90
RENEW_BEFORE_DAYS = 30
# Random bytes in the certificate's common name (as hex), drawn per certificate.
NAME_BYTES = 8


def _password(data_key: bytes) -> bytes:
    return hashlib.blake2b(b"tls-key", key=data_key, digest_size=32).hexdigest().encode()


def create(data_dir: Path, data_key: bytes, now: datetime.datetime) -> bytes:
    """Make a key and self-signed certificate; returns the certificate fingerprint."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, secrets.token_hex(NAME_BYTES))])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=VALIDITY_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    write_private(
        data_dir / KEY_FILE,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(_password(data_key)),
        ),
    )
    write_private(data_dir / CERT_FILE, cert.public_bytes(serialization.Encoding.PEM))
    return spki_hash(data_dir)


def spki_of_der(der: bytes) -> bytes:
    """SHA-256 of the SubjectPublicKeyInfo of a DER certificate: what a pin is."""
    cert = x509.load_der_x509_certificate(der)
    return hashlib.sha256(
        cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).digest()


def _load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def spki_hash(data_dir: Path, cert_file: str = CERT_FILE) -> bytes:
    """The pin of the node's current TLS key (or of the key in ``cert_file``)."""
    return spki_of_der(_load_cert(data_dir / cert_file).public_bytes(serialization.Encoding.DER))


def pins(data_dir: Path) -> tuple[bytes, ...]:
    """The pins this node's card lists: the current key's, and the next key's if one
    was made (sorted, as the card carries them)."""
    found = {spki_hash(data_dir)}
    if (data_dir / NEXT_CERT_FILE).exists():
        found.add(spki_hash(data_dir, NEXT_CERT_FILE))
    return tuple(sorted(found))


def expires_at(data_dir: Path) -> datetime.datetime:
    """When the current certificate stops being valid."""
    return _load_cert(data_dir / CERT_FILE).not_valid_after_utc


def _reissue(
    data_dir: Path, data_key: bytes, cert_file: str, key_file: str, now: datetime.datetime
) -> None:
    """A fresh certificate for the key in ``key_file``, with the names of the one in
    ``cert_file`` (so the pin, which hashes only the key, is unchanged)."""
    old = _load_cert(data_dir / cert_file)
    key = serialization.load_pem_private_key(
        (data_dir / key_file).read_bytes(), password=_password(data_key)
    )
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    cert = (
        x509.CertificateBuilder()
        .subject_name(old.subject)
        .issuer_name(old.issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=VALIDITY_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    write_private(data_dir / cert_file, cert.public_bytes(serialization.Encoding.PEM))


def renew_if_due(data_dir: Path, data_key: bytes, now: datetime.datetime) -> bool:
    """Reissue the certificate on the same key if fewer than RENEW_BEFORE_DAYS remain;
    True if it did (the server must then reload it: ``reload``)."""
    if expires_at(data_dir) - now > datetime.timedelta(days=RENEW_BEFORE_DAYS):
        return False
    _reissue(data_dir, data_key, CERT_FILE, KEY_FILE, now)
    return True


def prepare_next_key(data_dir: Path, data_key: bytes, now: datetime.datetime) -> bytes:
    """Make the next TLS key and its certificate beside the current ones (not used
    yet); returns its pin. Making it again replaces an unused next key."""
    key = ec.generate_private_key(ec.SECP256R1())
    write_private(
        data_dir / NEXT_KEY_FILE,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(_password(data_key)),
        ),
    )
    # The names are copied from the current certificate; _reissue signs with the new key.
    write_private(data_dir / NEXT_CERT_FILE, (data_dir / CERT_FILE).read_bytes())
    _reissue(data_dir, data_key, NEXT_CERT_FILE, NEXT_KEY_FILE, now)
    return spki_hash(data_dir, NEXT_CERT_FILE)


def switch_to_next(data_dir: Path) -> bytes:
    """Serve with the next key from now on; returns its pin. Raises FileNotFoundError
    if no next key was prepared."""
    (data_dir / NEXT_KEY_FILE).replace(data_dir / KEY_FILE)
    (data_dir / NEXT_CERT_FILE).replace(data_dir / CERT_FILE)
    return spki_hash(data_dir)


def reload(ctx: ssl.SSLContext, data_dir: Path, data_key: bytes) -> None:
    """Load the current certificate and key into a running server's context: new
    handshakes use them, open connections keep theirs."""
    ctx.load_cert_chain(
        str(data_dir / CERT_FILE), str(data_dir / KEY_FILE), password=_password(data_key)
    )


def server_context(data_dir: Path, data_key: bytes) -> ssl.SSLContext:
    """A TLS 1.3-only server context with the node's certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(
        str(data_dir / CERT_FILE), str(data_dir / KEY_FILE), password=_password(data_key)
    )
    return ctx
