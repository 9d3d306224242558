"""Sending identities and their DKIM keys."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DKIM_KEY_BITS = 2048


def generate_dkim_key(bits: int = DKIM_KEY_BITS) -> str:
    """A new RSA private key in PEM (PKCS#8), to be stored encrypted."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def dkim_dns_record(private_key_pem: str) -> str:
    """The TXT record value to publish at <selector>._domainkey.<domain>."""
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"
