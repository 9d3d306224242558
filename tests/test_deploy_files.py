"""The deploy files agree: Procfile, Heroku's app.json and the systemd units in docs/systemd/.

The Procfile is the reference; app.json and the units are checked against it and against the
settings mailapp.config really reads, so a process, variable or add-on added to one of them
and forgotten in another fails here instead of at a deploy.
"""

from __future__ import annotations

import configparser
import json
import re
import secrets
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from mailapp.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "docs" / "systemd"
# Heroku sets <as>_URL for an attached add-on; these are the names when `as` is not given.
ADDON_VARS = {"heroku-postgresql": "DATABASE", "heroku-redis": "REDIS"}
# Heroku sends SIGKILL this long after SIGTERM when it stops a dyno.
HEROKU_STOP_SECONDS = 30


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    pairs = (line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))
    return {name.strip(): command.strip() for name, command in pairs}


def app_json() -> dict:
    return json.loads((ROOT / "app.json").read_text())


def unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, comment_prefixes=("#", ";"))
    parser.optionxform = str  # systemd keys are case-sensitive
    path = UNITS / name
    assert path.exists(), f"docs/systemd/{name} is missing"
    parser.read_string(path.read_text())
    return parser


def services() -> list[str]:
    return sorted(path.name for path in UNITS.glob("mailapp-*.service"))


def procfile_command(exec_start: str) -> str:
    """ExecStart as the Procfile line it runs: no `sh -c` wrapper, `exec` or systemd `$$`."""
    command = exec_start.replace("$$", "$")
    wrapped = re.fullmatch(r"/bin/sh -c '(.*)'", command)
    if wrapped:
        command = wrapped.group(1)
    command = re.sub(r"(^|&&\s*)exec\s+", r"\1", command)
    return " ".join(command.split())


class RecordingEnv(Mapping[str, str]):
    """An environment that remembers every variable asked for, set or not."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return self.values[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return key in self.values

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


def heroku_env() -> dict[str, str]:
    """What a Heroku app made from app.json would have: its values, secrets and add-ons."""
    env: dict[str, str] = {}
    for name, spec in app_json()["env"].items():
        if "value" in spec:
            env[name] = spec["value"]
        elif spec.get("generator") == "secret":
            env[name] = secrets.token_hex(32)  # Heroku's generated secret: 64 hex digits
        elif spec.get("required", True):
            env[name] = operator_value(name)
    for addon in app_json()["addons"]:
        plan = addon["plan"] if isinstance(addon, dict) else addon
        service = plan.split(":")[0]
        prefix = addon.get("as") if isinstance(addon, dict) else None
        env[f"{prefix or ADDON_VARS[service]}_URL"] = {
            "heroku-postgresql": "postgres://u:p@db.example:5432/d1",
            "heroku-redis": "redis://h:p@kv.example:6379",
        }[service]
    return env


def operator_value(name: str) -> str:
    """A valid value for a required variable the operator types in at setup."""
    examples = {"ENCRYPTION_KEY": Fernet.generate_key().decode(), "BASE_URL": "https://m.example"}
    assert name in examples, f"{name}: required in app.json, but no example value in this test"
    return examples[name]


def test_app_json_is_a_heroku_manifest() -> None:
    manifest = app_json()
    assert 3 <= len(manifest["name"]) <= 30  # Heroku's limits
    assert manifest["description"]
    assert {"env", "addons", "formation"} <= set(manifest)
    for name, spec in manifest["env"].items():
        assert spec.get("description"), f"{name}: no description"
    plans = {(a["plan"] if isinstance(a, dict) else a).split(":")[0] for a in manifest["addons"]}
    assert plans == {"heroku-postgresql", "heroku-redis"}


def test_formation_has_each_procfile_process() -> None:
    formation = app_json()["formation"]
    assert set(formation) == set(procfile()) - {"release"}
    for name, entry in formation.items():
        assert entry["quantity"] >= 1, name
        assert entry["size"], name


def test_release_phase_is_the_procfile_line_only() -> None:
    assert "db upgrade" in procfile()["release"]
    # Heroku runs the Procfile's release on every release; a postdeploy copy would run twice.
    scripts = app_json().get("scripts", {})
    assert all("db upgrade" not in command for command in scripts.values())


def test_app_json_env_starts_mailapp_in_production(tmp_path: Path) -> None:
    config = load_config(heroku_env(), tmp_path)
    assert config["MAILAPP_ENV"] == "production"
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    assert config["REDIS_URL"].startswith("redis://h:p@kv.example")


def test_production_without_an_app_json_secret_refuses_to_start(tmp_path: Path) -> None:
    # The check above passes only because app.json supplies these: prove each is needed.
    for name in ("SECRET_KEY", "ENCRYPTION_KEY", "REDIS_URL"):
        env = {k: v for k, v in heroku_env().items() if k != name}
        with pytest.raises(ConfigError, match=name):
            load_config(env, tmp_path)


def test_a_generated_hex_secret_is_not_a_fernet_key(tmp_path: Path) -> None:
    # Why ENCRYPTION_KEY has no `generator` in app.json.
    assert "generator" not in app_json()["env"]["ENCRYPTION_KEY"]
    env = {**heroku_env(), "ENCRYPTION_KEY": secrets.token_hex(32)}
    with pytest.raises(ConfigError, match="ENCRYPTION_KEY"):
        load_config(env, tmp_path)


def test_app_json_declares_only_variables_mailapp_reads(tmp_path: Path) -> None:
    env = RecordingEnv(heroku_env())
    load_config(env, tmp_path)
    procfile_vars = set(re.findall(r"\$\{(\w+)", " ".join(procfile().values())))
    for name, spec in app_json()["env"].items():
        if spec.get("required", True):
            assert name in env.read, f"{name}: required by app.json, never read by load_config"
        else:
            assert name in env.read | procfile_vars, f"{name}: read by neither config nor Procfile"


def test_each_procfile_process_has_a_unit_running_its_command() -> None:
    assert services() == sorted(f"mailapp-{name}.service" for name in procfile())
    for name, command in procfile().items():
        exec_start = unit(f"mailapp-{name}.service")["Service"]["ExecStart"]
        assert procfile_command(exec_start) == " ".join(command.split()), name


def test_units_share_user_directory_environment_and_target() -> None:
    target = unit("mailapp.target")["Unit"]["Wants"].split()
    assert sorted(target) == services()
    for name in services():
        parsed = unit(name)
        service = parsed["Service"]
        assert service["User"] == "mailapp", name
        assert service["WorkingDirectory"] == "/opt/mailapp", name
        assert service["EnvironmentFile"] == "/etc/mailapp/env", name
        assert parsed["Unit"]["PartOf"] == "mailapp.target", name
        assert parsed["Install"]["WantedBy"] == "mailapp.target", name
        if name == "mailapp-release.service":
            assert service["Type"] == "oneshot"
            continue
        assert service["Restart"] == "on-failure", name
        # Migrations finish before new code starts; a failed one keeps it from starting.
        assert "mailapp-release.service" in parsed["Unit"]["Requires"].split(), name
        assert "mailapp-release.service" in parsed["Unit"]["After"].split(), name


def test_worker_is_given_time_to_stop_gracefully() -> None:
    found = re.search(r"WORKER_SHUTDOWN_TIMEOUT_MS:-(\d+)", procfile()["worker"])
    assert found, "the Procfile's worker has no default --worker-shutdown-timeout"
    shutdown_seconds = int(found.group(1)) / 1000
    assert shutdown_seconds < HEROKU_STOP_SECONDS
    stop = unit("mailapp-worker.service")["Service"]["TimeoutStopSec"]
    assert stop.isdigit(), f"TimeoutStopSec={stop}: write plain seconds"
    assert int(stop) > shutdown_seconds
