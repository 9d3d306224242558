"""Back-office fixtures: log in as a user of a role, and read CSRF tokens from pages."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from mailapp.models import User

TOKEN = re.compile(rb'name="csrf_token"[^>]*value="([^"]+)"')


def login(client: FlaskClient, user: User) -> FlaskClient:
    """Start a Flask-Login session for the user without going through the form."""
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
    return client


def csrf_token(client: FlaskClient) -> str:
    page = client.get("/account/password")
    return TOKEN.search(page.data).group(1).decode()


@pytest.fixture
def as_user(client):
    def log_in(user: User) -> FlaskClient:
        return login(client, user)

    return log_in
