"""Sign a bench's test client in the way the app does: a server-side session and its token."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from mailapp.access.audit import Actor
from mailapp.access.sessions import SESSION_KEY, start_session
from mailapp.extensions import db
from mailapp.models import User


def sign_in(app: Flask, client: FlaskClient, user_id: int) -> FlaskClient:
    """Open a session for the user and put its token in the client's session cookie."""
    with app.app_context():
        user = db.session.get(User, user_id)
        token = start_session(
            user, method="password", ip=None, user_agent="bench", actor=Actor.system("bench")
        )
    with client.session_transaction() as session:
        session["_user_id"] = str(user_id)
        session["_fresh"] = True
        session[SESSION_KEY] = token
    return client
