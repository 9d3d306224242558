"""Separate browsers for sign-in tests.

pytest-flask keeps one app context pushed for the whole test, and Flask reuses it for the
test client's requests: `g` (where Flask-Login caches the signed-in user and Flask-WTF the
CSRF token) would then outlive a request. Each request here runs in an app context of its
own, as in production, so two browsers in one test do not see each other's user.
"""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.factories import PASSWORD

FORM_TOKEN = re.compile(rb'name="csrf_token"[^>]*value="([^"]+)"')


class Browser:
    """A test client whose every request gets a fresh app context (a fresh `g`)."""

    def __init__(self, app: Flask, ip: str = "192.0.2.10") -> None:
        self.app = app
        self.client: FlaskClient = app.test_client()
        self.ip = ip

    def get(self, path: str, **kwargs: object) -> TestResponse:
        with self.app.app_context():
            return self.client.get(path, environ_base={"REMOTE_ADDR": self.ip}, **kwargs)

    def post(self, path: str, **kwargs: object) -> TestResponse:
        with self.app.app_context():
            return self.client.post(path, environ_base={"REMOTE_ADDR": self.ip}, **kwargs)

    def form_token(self, path: str) -> str:
        """The CSRF token of the form on a page."""
        return FORM_TOKEN.search(self.get(path).data).group(1).decode()

    def cookie(self, name: str = "session") -> str | None:
        found = self.client.get_cookie(name)
        return found.value if found else None

    def submit_login(self, email: str, password: str = PASSWORD, query: str = "") -> TestResponse:
        token = self.form_token("/login")
        return self.post(
            f"/login{query}", data={"email": email, "password": password, "csrf_token": token}
        )


def signed_in(app: Flask, email: str, ip: str = "192.0.2.10") -> Browser:
    """A browser that signed in with a password through the form (no second factor)."""
    browser = Browser(app, ip)
    response = browser.submit_login(email)
    assert response.status_code == 302, response.data
    assert browser.get("/admin/").status_code == 200
    return browser
