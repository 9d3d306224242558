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
