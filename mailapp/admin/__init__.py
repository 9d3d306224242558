"""The Flask-Admin back office."""

from __future__ import annotations

from flask import Flask
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from mailapp.admin.index import HomeView


def init_app(app: Flask) -> None:
    admin = Admin(
        app,
        name="mailapp",
        index_view=HomeView(name="Home", url="/admin"),
        theme=Bootstrap4Theme(swatch="default", fluid=True),
    )
    app.extensions["mailapp_admin"] = admin
