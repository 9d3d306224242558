import json
import stat

import pytest

from mailapp.config import ConfigError, database_url, load_config

KEY = "5u1vzLH7Ip3nq9cJmV3zV6aWlq6jz3xk8Yl5g3QeH0c="


def test_heroku_postgres_url_uses_psycopg():
    assert database_url("postgres://u:p@db.example:5432/mail") == (
        "postgresql+psycopg://u:p@db.example:5432/mail"
    )
    assert database_url("postgresql://db/mail") == "postgresql+psycopg://db/mail"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("mysql://u@h/db", "DATABASE_URL: unsupported scheme 'mysql'"),
        ("not a url", "DATABASE_URL: cannot parse"),
    ],
)
def test_bad_database_url_is_named(raw, message):
    with pytest.raises(ConfigError, match=message):
        database_url(raw)


def test_production_refuses_to_start_without_secrets(tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY, ENCRYPTION_KEY: required in production"):
        load_config({"MAILAPP_ENV": "production", "REDIS_URL": "redis://r"}, tmp_path)
    assert not (tmp_path / "secrets.json").exists()


def test_development_generates_secrets_once_and_reuses_them(tmp_path):
    first = load_config({}, tmp_path)
    second = load_config({}, tmp_path)
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert first["ENCRYPTION_KEY"] == second["ENCRYPTION_KEY"]
    stored = tmp_path / "secrets.json"
    assert json.loads(stored.read_text())["SECRET_KEY"] == first["SECRET_KEY"]
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600


def test_development_defaults_point_at_embedded_services(tmp_path):
    config = load_config({"PORT": "5050"}, tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'mailapp.db'}"
    assert config["REDIS_URL"] == "redis://127.0.0.1:6390/0"
    assert config["SMTP_URL"] == "smtp://127.0.0.1:1025"
    assert config["BASE_URL"] == "http://127.0.0.1:5050"
    assert config["SESSION_COOKIE_SECURE"] is False


def test_production_cookies_are_secure(tmp_path):
    env = {
        "MAILAPP_ENV": "production",
        "SECRET_KEY": "s" * 40,
        "ENCRYPTION_KEY": KEY,
        "REDIS_URL": "redis://r:6379/0",
        "DATABASE_URL": "postgres://db/mail",
    }
    config = load_config(env, tmp_path)
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert config["SMTP_URL"] is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ENCRYPTION_KEY": "short"}, "ENCRYPTION_KEY: not a Fernet key"),
        ({"PORT": "http"}, "PORT: 'http' is not a port number"),
        ({"REDIS_URL": "http://r"}, "REDIS_URL: 'http://r' is not a redis"),
        ({"SMTP_URL": "smtp://user:pw@:25"}, r"SMTP_URL: 'smtp://user:\*\*\*@:25'"),
        ({"BASE_URL": "mail.example.com"}, "BASE_URL: 'mail.example.com' is not an absolute"),
        ({"MAILAPP_ENV": "staging"}, "MAILAPP_ENV: 'staging' is not one of"),
        ({"TRACING": "jaeger"}, "TRACING: 'jaeger' is not otlp or off"),
        (
            {
                "MAILAPP_ENV": "production",
                "SECRET_KEY": "short",
                "ENCRYPTION_KEY": KEY,
                "REDIS_URL": "redis://r",
            },
            "SECRET_KEY: use at least 32",
        ),
    ],
)
def test_bad_settings_name_the_variable(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        load_config({"SECRET_KEY": "dev", **env}, tmp_path)


def test_sending_settings_are_validated():
    from mailapp.config import sending_settings

    settings = sending_settings({"SEND_BACKOFF": "1,2", "SEND_GROUP_SIZE": "5"})
    assert settings["SEND_BACKOFF"] == [1, 2]
    assert settings["SEND_GROUP_SIZE"] == 5
    assert settings["TRANSACTIONAL_UNSUBSCRIBES"] == "ignore"
    # Slow-downs: 2 a second, +1 every 30 s, lifted at 8 times the first rate.
    assert [settings[k] for k in ("THROTTLE_RATE", "THROTTLE_STEP", "THROTTLE_STEP_SECONDS")] == [
        2,
        1,
        30,
    ]
    assert settings["THROTTLE_CEILING"] == 16
    assert sending_settings({"THROTTLE_RATE": "5"})["THROTTLE_CEILING"] == 40
    # MX look-ups on, except in tests (which must not ask the real DNS).
    assert settings["MX_GROUPING"] is True
    assert sending_settings({"MAILAPP_ENV": "testing"})["MX_GROUPING"] is False
    assert sending_settings({"MAILAPP_ENV": "testing", "MX_GROUPING": "on"})["MX_GROUPING"]
    assert sending_settings({"MX_GROUPING": "0"})["MX_GROUPING"] is False
    for bad in (
        {"SEND_BACKOFF": "1,x"},
        {"SEND_GROUP_SIZE": "0"},
        {"TRANSACTIONAL_UNSUBSCRIBES": "sometimes"},
        {"THROTTLE_STEP_SECONDS": "0"},
        {"MX_GROUPING": "maybe"},
    ):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            sending_settings(bad)


def test_metrics_token_is_off_by_default_and_refused_when_short(tmp_path):
    assert load_config({}, tmp_path)["METRICS_TOKEN"] is None
    with pytest.raises(ConfigError, match="METRICS_TOKEN"):
        load_config({"METRICS_TOKEN": "short"}, tmp_path)
    token = "m" * 32
    config = load_config({"METRICS_TOKEN": token, "PROMETHEUS_MULTIPROC_DIR": "/x"}, tmp_path)
    assert (config["METRICS_TOKEN"], config["PROMETHEUS_MULTIPROC_DIR"]) == (token, "/x")


def test_dns_settings(tmp_path):
    env = {"DNS_RESOLVER": "127.0.0.1:5353", "SPF_INCLUDE": "include:_spf.a.test  ip4:1.2.3.4"}
    config = load_config({**env, "BOUNCE_MX_HOST": "MX.Relay.test."}, tmp_path)
    assert config["DNS_RESOLVER"] == "127.0.0.1:5353"
    assert config["SPF_INCLUDE"] == ["include:_spf.a.test", "ip4:1.2.3.4"]
    assert config["BOUNCE_MX_HOST"] == "mx.relay.test"
    defaults = load_config({}, tmp_path)
    assert (defaults["DNS_RESOLVER"], defaults["DNS_TIMEOUT"]) == (None, 3.0)
    with pytest.raises(ConfigError, match="DNS_RESOLVER"):
        load_config({"DNS_RESOLVER": "dns://x y"}, tmp_path)
    with pytest.raises(ConfigError, match="DNS_TIMEOUT"):
        load_config({"DNS_TIMEOUT": "0"}, tmp_path)


def test_alert_cool_down_comes_from_the_environment(tmp_path):
    assert load_config({}, tmp_path)["ALERT_COOLDOWN_MINUTES"] == 60
    assert load_config({"ALERT_COOLDOWN_MINUTES": "15"}, tmp_path)["ALERT_COOLDOWN_MINUTES"] == 15
    with pytest.raises(ConfigError, match="ALERT_COOLDOWN_MINUTES"):
        load_config({"ALERT_COOLDOWN_MINUTES": "soon"}, tmp_path)
