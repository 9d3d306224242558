"""`next` after sign-in goes only to a path of this site, as the browser reads it (issue 15,
item 2): tabs and line breaks are dropped by browsers, backslashes read as slashes."""

from __future__ import annotations

import re

import pytest

from tests.factories import PASSWORD, make_project, make_user

TOKEN = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture
def user(app):
    return make_user(make_project(), email="ada@example.com")


def post_login(client, query: str):
    token = TOKEN.search(client.get("/login").data).group(1).decode()
    return client.post(
        f"/login?{query}",
        data={"email": "ada@example.com", "password": PASSWORD, "csrf_token": token},
    )


@pytest.mark.parametrize(
    "query",
    [
        "next=/%09/evil.example",  # the probe's payload: a tab browsers strip
        "next=/%09%09/evil.example",
        "next=%09//evil.example",
        "next=/%5Cevil.example",  # /\evil.example: a backslash is a slash to browsers
        "next=%5C%5Cevil.example",
        "next=//evil.example",
        "next=///evil.example",
        "next=https://evil.example/",
        "next=https:/evil.example",
        "next=javascript:alert(1)",
        "next=%20//evil.example",
        "next=/%00/evil.example",
        "next=evil.example",
    ],
)
def test_no_next_leads_off_the_site(client, user, query):
    response = post_login(client, query)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"


@pytest.mark.parametrize("query", ["next=/admin/%0d%0aSet-Cookie:x=1", "next=/%0a/evil.example"])
def test_a_line_break_in_next_is_a_clean_400(client, user, query):
    response = post_login(client, query)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert b"next" in response.data
    assert client.get("/admin/").status_code == 302  # and nobody was signed in


def test_a_path_of_the_site_is_kept(client, user):
    response = post_login(client, "next=/admin/contact/?page=2")
    assert response.headers["Location"] == "/admin/contact/?page=2"
