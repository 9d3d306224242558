import re

import pytest

from tests.factories import PASSWORD, make_project, make_user


def csrf_token(page: bytes) -> str:
    return re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1).decode()


@pytest.fixture
def user(app):
    return make_user(make_project(), email="ada@example.com")


def test_admin_requires_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/admin/"


def test_login_page_renders_with_csrf_token(client):
    page = client.get("/login")
    assert page.status_code == 200
    assert b"Sign in to mailapp" in page.data
    assert csrf_token(page.data)


def test_login_then_admin_home_then_logout(client, user):
    token = csrf_token(client.get("/login").data)
    response = client.post(
        "/login?next=/admin/",
        data={"email": "ada@example.com", "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"
    home = client.get("/admin/")
    assert home.status_code == 200
    assert b"ada@example.com" in home.data
    logout_token = re.search(rb'name="csrf_token" value="([^"]+)"', home.data).group(1).decode()
    assert client.post("/logout", data={"csrf_token": logout_token}).status_code == 302
    assert client.get("/admin/").status_code == 302


def test_wrong_password_is_refused(client, user):
    token = csrf_token(client.get("/login").data)
    response = client.post(
        "/login", data={"email": "ada@example.com", "password": "wrong", "csrf_token": token}
    )
    assert response.status_code == 401
    assert b"Wrong email or password" in response.data
    assert client.get("/admin/").status_code == 302


def test_login_without_csrf_token_is_refused(client, user):
    response = client.post("/login", data={"email": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil"])
def test_next_parameter_is_never_an_open_redirect(client, user, target):
    token = csrf_token(client.get("/login").data)
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"email": "ada@example.com", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/admin/"


def test_repeated_failures_delay_that_address_and_say_so(client, user):
    from mailapp.access import throttle

    for _ in range(throttle.PAIR.free):
        throttle.record_failure(
            throttle.counters("password", "ada@example.com", "127.0.0.1", device=None)
        )
    token = csrf_token(client.get("/login").data)
    response = client.post(
        "/login", data={"email": "ada@example.com", "password": "wrong", "csrf_token": token}
    )
    assert response.status_code == 429
    assert b"Too many failed attempts. Wait 2 seconds, then try again." in response.data
    response = client.post(
        "/login", data={"email": "ada@example.com", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 429
    assert client.get("/admin/").status_code == 302
    elsewhere = client.post(
        "/login",
        data={"email": "ada@example.com", "password": PASSWORD, "csrf_token": token},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert elsewhere.status_code == 302


def test_password_change_page(client, user):
    token = csrf_token(client.get("/login").data)
    client.post(
        "/login", data={"email": "ada@example.com", "password": PASSWORD, "csrf_token": token}
    )
    page = client.get("/account/password")
    assert page.status_code == 200
    token = csrf_token(page.data)
    mismatch = client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current": PASSWORD,
            "new": "a new passphrase",
            "confirm": "other",
        },
    )
    assert mismatch.status_code == 400
    assert b"The two passwords differ." in mismatch.data
    wrong = client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current": "not it",
            "new": "a new passphrase",
            "confirm": "a new passphrase",
        },
    )
    assert b"the current password is wrong" in wrong.data
    done = client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current": PASSWORD,
            "new": "a new passphrase",
            "confirm": "a new passphrase",
        },
    )
    assert done.status_code == 302
    from mailapp.access.users import verify_password

    assert verify_password(user, "a new passphrase")


def test_password_change_requires_login(client):
    assert client.get("/account/password").status_code == 302


def test_session_cookie_flags(app):
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    from mailapp.config import load_config

    production = load_config(
        {
            "MAILAPP_ENV": "production",
            "SECRET_KEY": "s" * 40,
            "ENCRYPTION_KEY": app.config["ENCRYPTION_KEY"],
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "DATABASE_URL": "postgresql://x@127.0.0.1/x",
        },
        app.instance_path,
    )
    assert production["SESSION_COOKIE_SECURE"] is True
    assert production["REMEMBER_COOKIE_SECURE"] is True


def test_deactivating_a_user_ends_their_open_session(client, user):
    from mailapp.extensions import db

    token = csrf_token(client.get("/login").data)
    client.post(
        "/login", data={"email": "ada@example.com", "password": PASSWORD, "csrf_token": token}
    )
    assert client.get("/admin/").status_code == 200
    user.active = False
    db.session.commit()
    assert client.get("/admin/").status_code == 302
