"""Signed tokens naming ids: click, open, unsubscribe, VERP, confirmation links.

A token is `<id>-<id>...-<signature>`: ids in base 36, signature a truncated HMAC-SHA256 in
lower-case base 32. Only lower-case letters, digits and hyphens, so it survives URLs and
the local part of a VERP address, even through MTAs that lower-case it. Each purpose has
its own key derived from SECRET_KEY: a click token is never a valid unsubscribe token.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from functools import lru_cache

SIGNATURE_BYTES = 10  # 80 bits: forging one is out of reach; 16 characters in base 32
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
# Lower-case RFC 4648 base 32 by pairs of characters: 10 bits a lookup. The signature is 80
# bits, exactly 16 characters with no padding; base64.b32encode is pure Python and ~2.5x slower.
_B32 = "abcdefghijklmnopqrstuvwxyz234567"
_B32_PAIRS = tuple(a + b for a in _B32 for b in _B32)
_SHIFTS = tuple(range(SIGNATURE_BYTES * 8 - 10, -1, -10))


class BadToken(ValueError):
    """The token is malformed, forged, for another purpose, or expired."""


class ExpiredToken(BadToken):
    """The token is genuine but older than the maximum age it was read with."""


@lru_cache(maxsize=64)
def _key(secret: str, purpose: str) -> bytes:
    return hmac.new(secret.encode(), f"mailapp-token:{purpose}".encode(), hashlib.sha256).digest()


def _b36(number: int) -> str:
    if number < 0:
        raise ValueError("ids are non-negative")
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = _DIGITS[rest] + out
        if not number:
            return out


def _sign(secret: str, purpose: str, body: str) -> str:
    # One-shot hmac.digest runs in C: this is on the hot path (one call per tracked link).
    digest = hmac.digest(_key(secret, purpose), body.encode(), "sha256")
    number, pairs = int.from_bytes(digest[:SIGNATURE_BYTES], "big"), _B32_PAIRS
    return "".join([pairs[(number >> shift) & 1023] for shift in _SHIFTS])


def make_token(secret: str, purpose: str, *ids: int, timestamped: bool = False) -> str:
    """Sign ids for one purpose; timestamped tokens can be given a maximum age when read."""
    parts = [_b36(i) for i in ids]
    if timestamped:
        parts.append(_b36(int(time.time())))
    body = "-".join(parts)
    return f"{body}-{_sign(secret, purpose, body)}"


def read_token(
    secret: str, purpose: str, token: str, *, count: int, max_age: float | None = None
) -> tuple[int, ...]:
    """The ids a token names, after checking its signature (and age); else BadToken."""
    token = token.strip().lower()
    body, _, signature = token.rpartition("-")
    expected = count + (1 if max_age is not None else 0)
    parts = body.split("-") if body else []
    if len(parts) != expected or not all(p and len(p) <= 13 for p in parts):
        raise BadToken("malformed token")
    if not hmac.compare_digest(signature, _sign(secret, purpose, body)):
        raise BadToken("bad signature")
    try:
        values = tuple(int(p, 36) for p in parts)
    except ValueError:
        raise BadToken("malformed token") from None
    if max_age is not None:
        if time.time() - values[-1] > max_age:
            raise ExpiredToken("expired")
        values = values[:-1]
    return values
