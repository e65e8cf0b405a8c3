"""The node's self-signed TLS certificate for the federation port.

Rule: peers pin the certificate by the SHA-256 fingerprint of its DER bytes (in the
node card), so no certificate authority is involved. The private key is stored as
encrypted PKCS#8 whose password is derived from the data key: a locked node's disk
holds no usable TLS key. The certificate's names are random per node and say nothing
about the software: a scanner that reads them learns no more than from any other
self-signed certificate.
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
VALIDITY_DAYS = 3650
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
    return fingerprint(data_dir)


def fingerprint(data_dir: Path) -> bytes:
    """SHA-256 of the certificate's DER bytes."""
    cert = x509.load_pem_x509_certificate((data_dir / CERT_FILE).read_bytes())
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()


def server_context(data_dir: Path, data_key: bytes) -> ssl.SSLContext:
    """A TLS 1.3-only server context with the node's certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(
        str(data_dir / CERT_FILE), str(data_dir / KEY_FILE), password=_password(data_key)
    )
    return ctx
