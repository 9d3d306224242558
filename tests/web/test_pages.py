"""The site root and the error pages: back-office layout, what is missing, JSON for the API."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.models import Contact, Sender
from tests.admin.conftest import login
from tests.factories import make_project, make_user


def test_root_sends_people_to_sign_in(app, client):
    assert client.get("/").location == "/login"


def test_root_sends_people_to_the_back_office(app, client):
    login(client, make_user(make_project(), "marketer"))
    assert client.get("/").location == "/admin/"


def test_forbidden_page_names_the_permission_the_roles_and_keeps_the_navigation(app, client):
    project = make_project()
    login(client, make_user(project, "analyst"))
    page = client.get("/admin/sender/")
    assert page.status_code == 403
    html = page.data.decode()
    assert 'id="user-menu"' in html
    assert 'href="/admin/contact/"' in html
    assert "Manage sending identities, DKIM keys and transports" in html
    assert "<code>senders.manage</code>" in html
    assert "the roles <strong>owner</strong> and <strong>admin</strong> have" in html
    assert f"Your role in <strong>{project.name}</strong> is <strong>analyst</strong>" in html


def test_forbidden_action_names_its_own_permission(app, client):
    project = make_project()
    login(client, make_user(project, "support"))
    page = client.get("/admin/contact/export/csv/")
    assert page.status_code == 403
    assert "<code>contacts.export</code>" in page.data.decode()


def test_not_found_is_in_the_layout_with_a_way_back(app, client):
    project = make_project()
    login(client, make_user(project, "owner"))
    other = Sender(
        project_id=make_project().id,
        name="theirs",
        from_name="x",
        from_email="x@other.example",
        domain="other.example",
    )
    db.session.add(other)
    db.session.commit()
    page = client.get(f"/admin/sender/edit/?id={other.id}")  # another project's row
    assert page.status_code == 404
    html = page.data.decode()
    assert 'id="user-menu"' in html
    assert "Page not found" in html
    assert "in <strong>Senders</strong>" in html
    assert 'href="/admin/sender/">Back to Senders</a>' in html
    unknown = client.get("/no/such/page")
    assert unknown.status_code == 404
    assert "<code>/no/such/page</code>" in unknown.data.decode()
    assert 'href="/admin/">Go to the home page</a>' in unknown.data.decode()


def test_not_found_when_logged_out_has_no_menu(app, client):
    page = client.get("/no/such/page")
    assert page.status_code == 404
    assert "Page not found" in page.data.decode()
    assert 'id="user-menu"' not in page.data.decode()


def test_an_expired_form_is_a_400_in_the_layout_that_says_what_to_do(app, client):
    project = make_project()
    user = make_user(project, "marketer")
    login(client, user)
    page = client.post("/admin/contact/new/", data={"email": "ada@example.org"})  # no token
    assert page.status_code == 400
    html = page.data.decode()
    assert 'id="user-menu"' in html
    assert "This request could not be handled" in html
    assert "Go back, reload the page and send the form again." in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 0


def test_a_wrong_method_is_a_405_in_the_layout(app, client):
    login(client, make_user(make_project(), "owner"))
    page = client.get("/admin/account/security/logout-everywhere")
    assert page.status_code == 405
    html = page.data.decode()
    assert 'id="user-menu"' in html
    assert "This page does not do that" in html
    assert "does not take a GET request" in " ".join(html.split())


@pytest.fixture
def failing_routes(app):
    """A page and an API route that raise, answered as in production (not re-raised)."""

    def fail() -> str:
        raise RuntimeError("database on fire")

    app.add_url_rule("/admin-test-failure", "test_failure", fail)
    app.add_url_rule("/api/v1/test-failure", "api.test_failure", fail)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


def test_server_error_page_gives_a_reference_that_names_the_logged_failure(
    failing_routes, client, caplog
):
    login(client, make_user(make_project(), "marketer"))
    with caplog.at_level(logging.ERROR, logger="mailapp.web.pages"):
        page = client.get("/admin-test-failure")
    assert page.status_code == 500
    html = page.data.decode()
    assert "Something went wrong" in html
    assert 'id="user-menu"' in html
    assert "database on fire" not in html  # no internals shown
    (record,) = [r for r in caplog.records if r.name == "mailapp.web.pages"]
    reference = record.args[0]
    assert f'<code id="error-reference">{reference}</code>' in html
    assert record.exc_info[1].args == ("database on fire",)


def test_api_errors_stay_json(failing_routes, client):
    missing = client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404
    assert missing.json["error"]["code"] == "not_found"
    failed = client.get("/api/v1/test-failure")
    assert failed.status_code == 500
    assert failed.json["error"]["code"] == "internal_server_error"


def test_public_pages_keep_their_plain_errors(app, client):
    login(client, make_user(make_project(), "owner"))
    page = client.get("/subscribe/no-such-list")
    assert page.status_code == 404
    assert b"<title>404 Not Found</title>" in page.data
    assert b"user-menu" not in page.data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Sender)) == 0
