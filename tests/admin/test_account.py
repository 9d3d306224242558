"""My account: a user's own time zone, validated and audited, followed by every shown time."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.models import AuditLog, User
from tests.admin.conftest import csrf_token, login
from tests.factories import make_list, make_project, make_sent_campaign, make_user


def test_own_time_zone_changes_the_times_shown_and_is_audited(app, client):
    project = make_project()
    user = make_user(project, "owner")
    moment = datetime(2026, 1, 15, 12, 0, 30, 123456, tzinfo=UTC)
    make_sent_campaign(project).created_at = moment
    make_list(project).created_at = moment
    db.session.commit()
    login(client, user)
    assert "15 Jan 2026, 12:00 UTC" in client.get("/admin/").data.decode()

    page = client.get("/admin/account/")
    assert page.status_code == 200
    assert b"The project&#39;s zone (UTC)" in page.data
    response = client.post(
        "/admin/account/", data={"csrf_token": csrf_token(client), "timezone": "America/New_York"}
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, user.id).timezone == "America/New_York"
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "user.timezone_change"))
    assert entry.actor_user_id == user.id
    assert entry.context == {"from": None, "to": "America/New_York"}

    home = client.get("/admin/").data.decode()
    assert "15 Jan 2026, 07:00 EST" in home
    assert "12:00:30" not in home
    assert ".123456" not in home
    # Flask-Admin list views follow the same zone, to the minute.
    listing = client.get("/admin/list/").data.decode()
    assert "15 Jan 2026, 07:00 EST" in listing


def test_back_to_the_project_zone(app, client):
    project = make_project()
    user = make_user(project, "analyst")
    user.timezone = "Asia/Tokyo"
    db.session.commit()
    login(client, user)
    token = csrf_token(client)
    assert client.post("/admin/account/", data={"csrf_token": token, "timezone": ""}).status_code
    db.session.expire_all()
    assert db.session.get(User, user.id).timezone is None


def test_an_unknown_zone_is_refused_naming_the_field(app, client):
    project = make_project()
    user = make_user(project, "support")
    login(client, user)
    page = client.post(
        "/admin/account/", data={"csrf_token": csrf_token(client), "timezone": "Mars/Olympus"}
    )
    assert page.status_code == 400
    assert "timezone: &#39;Mars/Olympus&#39; is not an IANA time zone name" in page.data.decode()
    db.session.expire_all()
    assert db.session.get(User, user.id).timezone is None
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).where(AuditLog.action == "user.timezone_change")
        )
        == 0
    )


def test_the_account_page_is_linked_from_the_user_menu(app, client):
    login(client, make_user(make_project(), "marketer"))
    home = client.get("/admin/").data.decode()
    assert 'href="/admin/account/">My account</a>' in home
    assert 'href="/admin/api_docs/">API docs</a>' in home
