"""mailapp: self-hosted email campaigns and transactional mail."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from mailapp import crypto
from mailapp.config import ConfigError, load_config
from mailapp.extensions import csrf, db, login_manager, migrate, redis_client
from mailapp.runtime import tracing
from mailapp.runtime.logs import configure_logging

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["ConfigError", "create_app"]


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Application factory; test_config overrides the environment and the config."""
    overrides = dict(test_config or {})
    env = {**os.environ, **{k: v for k, v in overrides.items() if isinstance(v, str)}}
    instance_path = Path(env.get("INSTANCE_PATH") or ROOT / "instance").resolve()
    app = Flask(
        __name__,
        instance_path=str(instance_path),
        template_folder=str(ROOT / "templates"),
    )
    app.config.update(load_config(env, instance_path))
    app.config.update(overrides)
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})
    app.testing = app.config["MAILAPP_ENV"] == "testing"
    configure_logging(app.config)
    app.logger.setLevel(app.config["LOG_LEVEL"])

    crypto.configure(app.config["ENCRYPTION_KEY"])
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    redis_client.init_app(app)

    from mailapp import admin, cli, web

    tracing.init_app(app)  # first: its request span covers the other hooks
    web.init_app(app)
    admin.init_app(app)
    cli.init_app(app)
    return app
