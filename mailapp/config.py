"""Settings from the environment (12-factor), validated once at start.

Every problem is a ConfigError whose message names the variable, so a process can
print one line and exit instead of dying with a traceback.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from mailapp import crypto

ENVIRONMENTS = ("development", "production", "testing")
DEV_REDIS_URL = "redis://127.0.0.1:{port}/0"
DEV_SMTP_URL = "smtp://127.0.0.1:{port}"


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


def load_config(env: Mapping[str, str], instance_path: Path) -> dict[str, Any]:
    """Build the Flask config from environment variables."""
    mode = env.get("MAILAPP_ENV", "development")
    if mode not in ENVIRONMENTS:
        raise ConfigError(f"MAILAPP_ENV: {mode!r} is not one of {', '.join(ENVIRONMENTS)}")
    production = mode == "production"
    port = _port(env.get("PORT", "5000"), "PORT")
    secret_key, encryption_key = _secrets(env, instance_path, production)
    return {
        "MAILAPP_ENV": mode,
        "SECRET_KEY": secret_key,
        "ENCRYPTION_KEY": encryption_key,
        "SQLALCHEMY_DATABASE_URI": database_url(
            env.get("DATABASE_URL") or f"sqlite:///{instance_path / 'mailapp.db'}"
        ),
        "REDIS_URL": redis_url(env, production),
        "BASE_URL": _base_url(env.get("BASE_URL") or f"http://127.0.0.1:{port}"),
        "SMTP_URL": _smtp_url(env, production),
        "PORT": port,
        # The back-office Outbox (the capture server's mail) exists only in development.
        "DEV_OUTBOX": mode == "development",
        # Check each API answer against its documented schema (a mismatch raises): on in tests.
        "API_CHECK_RESPONSES": mode == "testing" or env.get("API_CHECK_RESPONSES") == "1",
        "SESSION_COOKIE_SECURE": production,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "SCHEDULER_LOCK_TTL": float(env.get("SCHEDULER_LOCK_TTL", "30")),
        "HEARTBEAT_MAX_AGE": float(env.get("HEARTBEAT_MAX_AGE", "60")),
        "BOUNCE_MAILBOX_URL": env.get("BOUNCE_MAILBOX_URL") or None,
        "ASSET_DIR": env.get("ASSET_DIR") or str(Path(instance_path) / "assets"),
        "ASSET_STORAGE_URL": _asset_storage_url(env.get("ASSET_STORAGE_URL")),
        "ASSET_MAX_BYTES": _positive_int(env.get("ASSET_MAX_BYTES", "5242880"), "ASSET_MAX_BYTES"),
        "ALERT_COOLDOWN_MINUTES": _positive_int(
            env.get("ALERT_COOLDOWN_MINUTES", "60"), "ALERT_COOLDOWN_MINUTES"
        ),
        "TRACKING_SPOOL_DIR": env.get("TRACKING_SPOOL_DIR")
        or str(Path(instance_path) / "tracking-spool"),
        **metrics_settings(env),
        **sending_settings(env),
        **dns_settings(env),
        **limit_settings(env),
        **log_settings(env, production),
        "TRACING": tracing_choice(env),
    }


def metrics_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """METRICS_TOKEN turns /metrics on; PROMETHEUS_MULTIPROC_DIR is where every process of
    the host keeps its values (mailapp.runtime.metrics)."""
    token = env.get("METRICS_TOKEN") or None
    if token is not None and len(token) < 16:
        raise ConfigError("METRICS_TOKEN: use at least 16 random characters")
    return {
        "METRICS_TOKEN": token,
        "PROMETHEUS_MULTIPROC_DIR": env.get("PROMETHEUS_MULTIPROC_DIR") or None,
    }


def tracing_choice(env: Mapping[str, str]) -> str:
    """TRACING: otlp, off, or "" (then on only when an OTLP endpoint is set: runtime.tracing)."""
    choice = env.get("TRACING", "").strip().lower()
    if choice not in ("", "otlp", "off"):
        raise ConfigError(f"TRACING: {choice!r} is not otlp or off")
    return choice


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def log_settings(env: Mapping[str, str], production: bool) -> dict[str, str]:
    """LOG_LEVEL, and LOG_FORMAT: json in production, text elsewhere, unless it says."""
    level = env.get("LOG_LEVEL", "INFO").upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"LOG_LEVEL: {level!r} is not one of {', '.join(LOG_LEVELS)}")
    log_format = env.get("LOG_FORMAT") or ("json" if production else "text")
    if log_format not in ("json", "text"):
        raise ConfigError(f"LOG_FORMAT: {log_format!r} is not json or text")
    return {"LOG_LEVEL": level, "LOG_FORMAT": log_format}


def limit_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """Request sizes and the render processes (content.isolation) that bound one request."""
    isolation = env.get("RENDER_ISOLATION", "process")
    if isolation not in ("process", "off"):
        raise ConfigError(f"RENDER_ISOLATION: {isolation!r} is not process or off")
    try:
        timeout = float(env.get("RENDER_TIMEOUT", "5"))
    except ValueError:
        timeout = 0
    if not 0 < timeout <= 60:
        raise ConfigError(f"RENDER_TIMEOUT: {env.get('RENDER_TIMEOUT')!r} is not 0-60 seconds")
    return {
        # Any request body; a larger one answers 413 before the view reads it.
        "MAX_CONTENT_LENGTH": _positive_int(
            env.get("MAX_CONTENT_LENGTH", str(16 * 1024 * 1024)), "MAX_CONTENT_LENGTH"
        ),
        # A CSV upload to the import wizard, the one request allowed to be larger.
        "IMPORT_MAX_BYTES": _positive_int(
            env.get("IMPORT_MAX_BYTES", str(512 * 1024 * 1024)), "IMPORT_MAX_BYTES"
        ),
        "RENDER_ISOLATION": isolation == "process",
        "RENDER_PROCESSES": _positive_int(env.get("RENDER_PROCESSES", "2"), "RENDER_PROCESSES"),
        "RENDER_TIMEOUT": timeout,
        "RENDER_MEMORY_MB": _positive_int(env.get("RENDER_MEMORY_MB", "1024"), "RENDER_MEMORY_MB"),
    }


def sending_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The send pipeline's knobs; tests shrink groups and backoff to run in seconds."""
    backoff = env.get("SEND_BACKOFF", "60,300,900,1800,3600,7200,14400")
    try:
        steps = [int(step) for step in backoff.split(",")]
    except ValueError:
        raise ConfigError(f"SEND_BACKOFF: {backoff!r} is not a list of seconds") from None

    def number(name: str, default: str) -> int:
        return _positive_int(env.get(name, default), name)

    # Whether transactional mail skips addresses that unsubscribed from marketing.
    unsubscribes = env.get("TRANSACTIONAL_UNSUBSCRIBES", "ignore")
    if unsubscribes not in ("ignore", "respect"):
        raise ConfigError(f"TRANSACTIONAL_UNSUBSCRIBES: {unsubscribes!r} is not ignore or respect")

    throttle_rate = number("THROTTLE_RATE", "2")
    return {
        # A transport failing this many times in a row is paused for TRANSPORT_PAUSE_SECONDS
        # (mail goes to the sender's other transports), then gets one trial message.
        "TRANSPORT_BREAKER_ERRORS": number("TRANSPORT_BREAKER_ERRORS", "5"),
        "TRANSPORT_PAUSE_SECONDS": number("TRANSPORT_PAUSE_SECONDS", "120"),
        # Rows one send step claims at once: the most a killed worker can leave `unknown`.
        "SEND_GROUP_SIZE": number("SEND_GROUP_SIZE", "50"),
        "DISPATCH_BATCH_SIZE": number("DISPATCH_BATCH_SIZE", "500"),
        # Batches of one campaign waiting in the broker at most: a bounded backlog.
        "DISPATCH_MAX_BATCHES": number("DISPATCH_MAX_BATCHES", "20"),
        # A dispatched batch whose message vanished (broker lost it) is dispatched again.
        "DISPATCH_RETRY_SECONDS": number("DISPATCH_RETRY_SECONDS", "300"),
        # Rows `sending` for longer than this belonged to a dead worker: they become unknown.
        "SEND_LEASE_SECONDS": number("SEND_LEASE_SECONDS", "900"),
        # Waits between tries of deferred mail (1 min ... 4 h); the last one repeats.
        "SEND_BACKOFF": steps,
        # Deferred mail is tried again for this long after its first 4xx, then fails (5 days,
        # Postfix's maximal_queue_lifetime); a project may set its own (retry_hours).
        "SEND_QUEUE_LIFETIME": number("SEND_QUEUE_LIFETIME", "432000"),
        "SMTP_POOL_SIZE": number("SMTP_POOL_SIZE", "4"),
        "SMTP_TIMEOUT": float(env.get("SMTP_TIMEOUT", "30")),
        # A rate limit asking to wait longer than this reschedules instead of sleeping.
        "RATE_LIMIT_MAX_WAIT": float(env.get("RATE_LIMIT_MAX_WAIT", "2")),
        # After a 421/4.7.x a provider group's per-second cap starts at THROTTLE_RATE, halves
        # on each new one, grows by THROTTLE_STEP every THROTTLE_STEP_SECONDS and is lifted
        # at THROTTLE_CEILING (or the sender's own per-second limit when lower).
        "THROTTLE_RATE": throttle_rate,
        "THROTTLE_STEP": number("THROTTLE_STEP", "1"),
        "THROTTLE_STEP_SECONDS": number("THROTTLE_STEP_SECONDS", "30"),
        "THROTTLE_CEILING": number("THROTTLE_CEILING", str(throttle_rate * 8)),
        # Group recipients by their domain's MX (Google Workspace is Google): off in tests,
        # which turn it on against their own DNS server, so no test asks the real DNS.
        "MX_GROUPING": _switch(env, "MX_GROUPING", env.get("MAILAPP_ENV") != "testing"),
        "TRANSACTIONAL_UNSUBSCRIBES": unsubscribes,
    }


def _switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = str(env.get(name, "")).strip().lower()
    if not value:
        return default
    if value not in ("1", "0", "on", "off", "true", "false"):
        raise ConfigError(f"{name}: {value!r} is not on or off")
    return value in ("1", "on", "true")


def dns_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The domain checks: which resolver asks (empty = the system's), what our SPF and
    bounce MX must name."""
    resolver = env.get("DNS_RESOLVER", "").strip()
    if resolver and not re.fullmatch(r"[0-9A-Za-z.:\-]+", resolver):
        raise ConfigError(f"DNS_RESOLVER: {resolver!r} is not host or host:port")
    try:
        timeout = float(env.get("DNS_TIMEOUT", "3"))
    except ValueError:
        timeout = 0
    if not 0 < timeout <= 30:
        raise ConfigError(f"DNS_TIMEOUT: {env.get('DNS_TIMEOUT')!r} is not 0-30 seconds")
    return {
        "DNS_RESOLVER": resolver or None,
        "DNS_TIMEOUT": timeout,
        # SPF mechanisms naming our sending servers, e.g. "include:_spf.relay.example ip4:…".
        "SPF_INCLUDE": env.get("SPF_INCLUDE", "").split(),
        # Where bounce domains' MX must point: the host whose MTA pipes to `flask bounces ingest`.
        "BOUNCE_MX_HOST": env.get("BOUNCE_MX_HOST", "").strip().rstrip(".").lower() or None,
        # What a sender's tracking domain must be a CNAME of; unset = BASE_URL's host.
        "TRACKING_CNAME_TARGET": env.get("TRACKING_CNAME_TARGET", "").strip().rstrip(".").lower()
        or None,
    }


def database_url(raw: str) -> str:
    """Normalize DATABASE_URL: Heroku's postgres:// becomes SQLAlchemy + psycopg 3."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(f"DATABASE_URL: cannot parse {redact_url(raw)!r}") from None
    backend = url.get_backend_name()
    if backend in ("postgres", "postgresql"):
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if backend == "sqlite":
        return raw
    raise ConfigError(
        f"DATABASE_URL: unsupported scheme {url.drivername!r} (use postgresql:// or sqlite:///)"
    )


def redis_url(env: Mapping[str, str], production: bool = False) -> str:
    """REDIS_URL, or the embedded development server's address when unset."""
    raw = env.get("REDIS_URL")
    if not raw:
        if production:
            raise ConfigError("REDIS_URL: required in production")
        return DEV_REDIS_URL.format(port=env.get("DEV_REDIS_PORT", "6390"))
    if urlsplit(raw).scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(
            f"REDIS_URL: {redact_url(raw)!r} is not a redis://, rediss:// or unix:// URL"
        )
    return raw


def _smtp_url(env: Mapping[str, str], production: bool) -> str | None:
    raw = env.get("SMTP_URL")
    if not raw:
        # Production may rely on per-sender transports; development uses the capture server.
        return None if production else DEV_SMTP_URL.format(port=env.get("DEV_SMTP_PORT", "1025"))
    parts = urlsplit(raw)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(f"SMTP_URL: {redact_url(raw)!r} is not an smtp:// or smtps:// URL")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ConfigError(f"SMTP_URL: bad port in {redact_url(raw)!r}") from None
    return raw


def _base_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"BASE_URL: {raw!r} is not an absolute http(s) URL")
    return raw.rstrip("/")


def _port(raw: str, name: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"{name}: {raw!r} is not a port number")
    return int(raw)


def _asset_storage_url(raw: str | None) -> str | None:
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme != "s3" or not parts.netloc:
        raise ConfigError(
            f"ASSET_STORAGE_URL: {raw!r} is not s3://bucket[/prefix][?endpoint_url=...]"
        )
    return raw


def _positive_int(raw: str, name: str) -> int:
    if not raw.isdigit() or int(raw) == 0:
        raise ConfigError(f"{name}: {raw!r} is not a positive whole number")
    return int(raw)


def _secrets(env: Mapping[str, str], instance_path: Path, production: bool) -> tuple[str, str]:
    secret_key = env.get("SECRET_KEY")
    encryption_key = env.get("ENCRYPTION_KEY")
    if production:
        missing = [
            n for n, v in (("SECRET_KEY", secret_key), ("ENCRYPTION_KEY", encryption_key)) if not v
        ]
        if missing:
            raise ConfigError(f"{', '.join(missing)}: required in production")
    if not (secret_key and encryption_key):
        stored = _stored_secrets(instance_path)
        secret_key = secret_key or stored["SECRET_KEY"]
        encryption_key = encryption_key or stored["ENCRYPTION_KEY"]
    if production and len(secret_key) < 32:
        raise ConfigError("SECRET_KEY: use at least 32 random characters in production")
    try:
        crypto.validate_keys(encryption_key)
    except ValueError:
        raise ConfigError(
            "ENCRYPTION_KEY: not a Fernet key (32 url-safe base64 bytes; "
            "make one with `flask secrets generate-key`)"
        ) from None
    return secret_key, encryption_key


def _stored_secrets(instance_path: Path) -> dict[str, str]:
    """Development secrets, generated on first start and reused afterwards."""
    path = instance_path / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    instance_path.mkdir(parents=True, exist_ok=True)
    values = {"SECRET_KEY": secrets.token_urlsafe(48), "ENCRYPTION_KEY": crypto.generate_key()}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(values, fh)
    return values


def redact_url(url: str) -> str:
    """The URL with its password masked, fit for messages and logs."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
