"""Public blueprints: health, metrics, login, API, tracking, unsubscribe, subscribe, assets,
webhooks; the site root and the error pages (`pages`)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from mailapp.web import guards, request_ids

    request_ids.init_app(app)  # first: every later hook's log lines name the request

    guards.init_app(app)  # first: the id converter applies to routes as they are added

    from mailapp.web import (
        api,
        assets,
        auth,
        health,
        metrics,
        subscribe,
        tracking,
        two_factor,
        unsubscribe,
        webhooks,
    )

    for module in (
        metrics,  # first: its request hooks time the others' requests
        health,
        auth,
        two_factor,
        api,
        tracking,
        unsubscribe,
        subscribe,
        assets,
        webhooks,
    ):
        app.register_blueprint(module.bp)

    from mailapp.web import browser_view

    app.register_blueprint(browser_view.bp)

    from mailapp.web import pages

    pages.init_app(app)  # after the API: its 404 handler replaces the API's app-wide one
