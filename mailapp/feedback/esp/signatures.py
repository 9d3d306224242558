"""Proving an ESP webhook request is genuine, fresh and not replayed.

- Amazon SES via SNS: RSA signature (SignatureVersion 1 = SHA1, 2 = SHA256) over the
  canonical fields, with the signing certificate fetched only over HTTPS from an
  `sns.<region>.amazonaws.com` host and cached in Redis; an optional topic ARN pin.
- SendGrid: ECDSA P-256/SHA-256 over timestamp + body with the account's public key.
- Mailgun: HMAC-SHA256 of timestamp + token with the signing key; each token once.
- Postmark: a shared secret in HTTP basic auth or a header, compared in constant time.

Every check raises `Rejected(status, reason)`; nothing here touches the database.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
import time
import urllib.request
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import redis
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from mailapp import safe_json

MAX_AGE_SECONDS = 15 * 60
SNS_MAX_AGE_SECONDS = 60 * 60
SNS_HOST_RE = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
CERT_CACHE_KEY = "mailapp:sns-cert:"
CERT_CACHE_SECONDS = 24 * 3600
REPLAY_KEY = "mailapp:webhook-replay:"

SNS_NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
SNS_SUBSCRIPTION_FIELDS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)


class Rejected(Exception):
    """A request that is not genuine, fresh or new: answered with `status`, changes nothing."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def is_sns_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(SNS_HOST_RE.match(parts.hostname or ""))


def http_get(url: str, timeout: float = 10.0) -> bytes:
    """GET an SNS URL (certificate, subscription confirmation); redirects not followed."""
    if not is_sns_url(url):
        raise Rejected(400, "not an SNS URL")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with opener.open(url, timeout=timeout) as response:
        return response.read(1_000_000)


def sns_certificate(url: str, client: redis.Redis) -> x509.Certificate:
    """The signing certificate, from the cache or fetched from the SNS host."""
    if not is_sns_url(url) or not urlsplit(url).path.endswith(".pem"):
        raise Rejected(403, "signing certificate is not on an SNS host")
    key = CERT_CACHE_KEY + hashlib.sha256(url.encode()).hexdigest()
    pem = client.get(key)
    if pem is None:
        try:
            pem = http_get(url)
        except OSError as exc:
            raise Rejected(503, f"could not fetch the signing certificate: {exc}") from None
        client.set(key, pem, ex=CERT_CACHE_SECONDS)
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise Rejected(403, "signing certificate unreadable") from None


def sns_string_to_sign(message: dict[str, Any]) -> bytes:
    fields = (
        SNS_NOTIFICATION_FIELDS
        if message.get("Type") == "Notification"
        else SNS_SUBSCRIPTION_FIELDS
    )
    return "".join(
        f"{name}\n{message[name]}\n" for name in fields if message.get(name) is not None
    ).encode()


def verify_sns(
    message: dict[str, Any], client: redis.Redis, *, topic_arn: str | None, now: float
) -> None:
    """Check an SNS message's signature, certificate host, topic and age."""
    # SignatureVersion 1 is SHA1 by Amazon's design; topics can be switched to version 2.
    versions = {"1": hashes.SHA1(), "2": hashes.SHA256()}  # noqa: S303
    algorithm = versions.get(str(message.get("SignatureVersion")))
    if algorithm is None or not message.get("Signature") or not message.get("SigningCertURL"):
        raise Rejected(401, "unsigned SNS message")
    if topic_arn and message.get("TopicArn") != topic_arn:
        raise Rejected(403, "SNS topic not allowed for this endpoint")
    public_key = sns_certificate(str(message["SigningCertURL"]), client).public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise Rejected(403, "unexpected signing key type")
    try:
        public_key.verify(
            base64.b64decode(message["Signature"]),
            sns_string_to_sign(message),
            padding.PKCS1v15(),
            algorithm,
        )
    except (InvalidSignature, binascii.Error, ValueError):
        raise Rejected(403, "bad SNS signature") from None
    try:
        sent = datetime.fromisoformat(str(message["Timestamp"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        raise Rejected(400, "SNS message without a valid timestamp") from None
    if abs(now - sent.timestamp()) > SNS_MAX_AGE_SECONDS:
        raise Rejected(400, "stale SNS message")


def verify_sendgrid(headers: dict[str, str], body: bytes, public_key_b64: str, now: float) -> str:
    """Check SendGrid's ECDSA signature over timestamp + body; returns the signature."""
    signature = headers.get("X-Twilio-Email-Event-Webhook-Signature")
    timestamp = headers.get("X-Twilio-Email-Event-Webhook-Timestamp")
    if not signature or not timestamp:
        raise Rejected(401, "unsigned SendGrid request")
    _check_fresh(timestamp, now)
    try:
        key = serialization.load_der_public_key(base64.b64decode(public_key_b64))
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise Rejected(500, "the endpoint's SendGrid key is not an ECDSA key")
        key.verify(
            base64.b64decode(signature), timestamp.encode() + body, ec.ECDSA(hashes.SHA256())
        )
    except (InvalidSignature, binascii.Error, ValueError):
        raise Rejected(403, "bad SendGrid signature") from None
    return signature


def verify_mailgun(signature: dict[str, Any], signing_key: str, now: float) -> str:
    """Check Mailgun's HMAC of timestamp + token; returns the token (used once)."""
    timestamp = str(signature.get("timestamp", ""))
    token = str(signature.get("token", ""))
    given = str(signature.get("signature", ""))
    if not (timestamp and token and given):
        raise Rejected(401, "unsigned Mailgun request")
    _check_fresh(timestamp, now)
    expected = hmac.new(signing_key.encode(), (timestamp + token).encode(), hashlib.sha256)
    if not hmac.compare_digest(expected.hexdigest(), given):
        raise Rejected(403, "bad Mailgun signature")
    return token


def verify_postmark(headers: dict[str, str], secret: str) -> None:
    """Postmark sends a shared secret: basic-auth password or X-Webhook-Secret header."""
    given = headers.get("X-Webhook-Secret", "")
    auth = headers.get("Authorization", "")
    if auth.lower().startswith("basic "):
        try:
            given = base64.b64decode(auth[6:]).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            given = ""
    if not given:
        raise Rejected(401, "Postmark request without credentials")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        raise Rejected(403, "bad Postmark credentials")


def _check_fresh(timestamp: str, now: float) -> None:
    try:
        age = abs(now - float(timestamp))
    except ValueError:
        raise Rejected(400, "bad timestamp") from None
    if not math.isfinite(age):  # nan compares false with everything: it would pass below
        raise Rejected(400, "bad timestamp")
    if age > MAX_AGE_SECONDS:
        raise Rejected(400, "stale request")


def check_replay(client: redis.Redis, provider: str, nonce: str) -> str:
    """Refuse a signature or token seen before; returns the key to mark after success."""
    key = f"{REPLAY_KEY}{provider}:{hashlib.sha256(nonce.encode()).hexdigest()}"
    if client.exists(key):
        raise Rejected(409, "replayed request")
    return key


def mark_seen(client: redis.Redis, key: str, ttl: int = 2 * MAX_AGE_SECONDS) -> None:
    client.set(key, b"1", ex=ttl)


def parse_json(body: bytes) -> Any:
    try:
        return safe_json.loads(body)
    except UnicodeDecodeError:
        raise Rejected(400, "body is not JSON") from None
    except ValueError as exc:
        raise Rejected(400, f"body is not acceptable JSON: {exc}") from None


def now() -> float:
    return time.time()
