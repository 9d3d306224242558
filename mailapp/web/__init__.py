"""Public blueprints: health, login; tracking, unsubscribe, subscribe, webhooks, API."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from mailapp.web import auth, health

    app.register_blueprint(health.bp)
    app.register_blueprint(auth.bp)
    from mailapp.web import api

    app.register_blueprint(api.bp)

    from mailapp.web import tracking

    app.register_blueprint(tracking.bp)

    from mailapp.web import unsubscribe

    app.register_blueprint(unsubscribe.bp)

    from mailapp.web import webhooks

    app.register_blueprint(webhooks.bp)
    from mailapp.web import subscribe

    app.register_blueprint(subscribe.bp)
    from mailapp.web import assets

    app.register_blueprint(assets.bp)
    from mailapp.web import subscribe

    app.register_blueprint(subscribe.bp)
