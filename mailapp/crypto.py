"""Secrets at rest: Fernet with key rotation (ENCRYPTION_KEY may list several keys)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

_fernet: MultiFernet | None = None


class DecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""


def configure(keys: str) -> None:
    """Use the comma-separated Fernet keys; the first one encrypts, all decrypt."""
    global _fernet
    _fernet = MultiFernet([Fernet(k.strip()) for k in keys.split(",") if k.strip()])


def generate_key() -> str:
    return Fernet.generate_key().decode()


def validate_keys(keys: str) -> None:
    """Raise ValueError when a key is not a valid Fernet key."""
    parts = [k.strip() for k in keys.split(",") if k.strip()]
    if not parts:
        raise ValueError("no key given")
    for part in parts:
        Fernet(part)


def _require() -> MultiFernet:
    if _fernet is None:
        raise RuntimeError("encryption is not configured: create_app() sets it up")
    return _fernet


def encrypt(value: str) -> str:
    return _require().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _require().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("stored secret does not decrypt with ENCRYPTION_KEY") from exc
