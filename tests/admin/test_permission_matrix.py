"""Every role x every admin endpoint and action: allowed or 403, derived from the table.

The expectations come from ROLE_PERMISSIONS and the app's URL map, so a new admin endpoint
without a permission, or an action without one, fails here.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from mailapp.access.permissions import Permission, role_has
from mailapp.admin.base import ProjectModelView
from mailapp.extensions import db
from mailapp.models import AuditLog, Role
from tests.admin.conftest import csrf_token, login, make_rows
from tests.factories import make_project, make_user

# Pages that need a login and nothing else.
LOGIN_ONLY = {
    "admin.index",
    "admin.switch_project",
    "admin.static",
    "account.index",
    # Each person's own sign-in security (tests/security/test_auth_sessions.py).
    "account_security.index",
    "account_security.enable",
    "account_security.recovery_codes",
    "account_security.disable",
    "account_security.logout_everywhere",
    "api_docs.index",
    "api_docs.asset",
}
POST_ONLY = {"delete_view", "action_view", "ajax_update"}


def admin_views(app: Flask) -> dict[str, object]:
    return {view.endpoint: view for view in app.extensions["mailapp_admin"]._views}


def admin_endpoints(app: Flask) -> list[tuple[str, object, str, object]]:
    """(endpoint, view, method name, rule) for every admin URL."""
    views = admin_views(app)
    found = []
    for rule in app.url_map.iter_rules():
        view_endpoint, _, method = rule.endpoint.partition(".")
        if view_endpoint in views and rule.endpoint not in LOGIN_ONLY:
            found.append((rule.endpoint, views[view_endpoint], method, rule))
    return sorted(found, key=lambda item: item[0])


def test_every_admin_endpoint_and_action_names_a_permission(app):
    endpoints = admin_endpoints(app)
    assert len(endpoints) > 50
    for endpoint, view, method, _ in endpoints:
        if method == "action_view":
            for name, _text in view._actions:
                assert isinstance(view.action_permission(name), Permission), (endpoint, name)
            continue
        assert isinstance(view.permission_for(method), Permission), endpoint


@pytest.mark.parametrize("role", list(Role))
def test_role_gets_exactly_what_the_table_grants(app, client, role):
    project = make_project()
    rows = make_rows(project)
    user = make_user(project, role.value)
    login(client, user)
    token = csrf_token(client)
    home = client.get("/admin/").data.decode()
    for endpoint, view, method, rule in admin_endpoints(app):
        row = rows.get(view.endpoint)
        url = rule.rule
        for argument in rule.arguments:
            url = url.replace(f"<{argument}>", "x").replace(f"<path:{argument}>", "x")
        query = {"id": row.id} if row is not None and hasattr(row, "id") else {}
        cases = []
        if method == "action_view":
            cases = [
                (view.action_permission(name), {"action": name, "rowid": "0"})
                for name, _ in view._actions
            ]
        else:
            cases = [(view.permission_for(method), None)]
        for permission, form in cases:
            if method in POST_ONLY:
                data = {"csrf_token": token, "id": "0", **(form or {})}
                response = client.post(url.replace("<export_type>", "csv"), data=data)
            else:
                response = client.get(
                    url.replace("<export_type>", "csv"),
                    query_string={**query, "name": "x"} if method == "ajax_lookup" else query,
                )
            allowed = role_has(role, permission) and method not in view.superuser_only
            if allowed:
                assert response.status_code != 403, (role, endpoint, form)
            else:
                assert response.status_code == 403, (role, endpoint, form, response.status)
        if method == "index_view" or (method == "index" and endpoint != "admin.index"):
            visible = f'href="{url}"' in home
            allowed = role_has(role, view.permission_for(method))
            if allowed and not view.is_visible():
                continue
            assert visible == allowed, (role, endpoint, "menu entry")


def test_forbidden_page_and_action_are_audited_and_change_nothing(app, client):
    project = make_project()
    rows = make_rows(project)
    user = make_user(project, Role.ANALYST.value)
    login(client, user)
    token = csrf_token(client)
    before = db.session.scalar(
        sa.select(sa.func.count()).where(AuditLog.action == "admin.forbidden")
    )
    assert client.get("/admin/sender/").status_code == 403
    contact_id = rows["contact"].id
    response = client.post(
        "/admin/contact/action/",
        data={"csrf_token": token, "action": "delete", "rowid": str(contact_id)},
    )
    assert response.status_code == 403
    db.session.expire_all()
    entries = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.action == "admin.forbidden").order_by(AuditLog.id)
    ).all()
    assert len(entries) == before + 2
    assert entries[-1].actor_user_id == user.id
    assert entries[-1].context["permission"] == "contacts.delete"
    assert entries[-2].context["path"] == "/admin/sender/"
    assert db.session.get(type(rows["contact"]), contact_id) is not None


def test_every_project_model_view_is_scoped(app):
    """Guard for new views: project-owned models only through ProjectModelView."""
    for view in admin_views(app).values():
        model = getattr(view, "model", None)
        if model is not None:
            assert isinstance(view, ProjectModelView), view


def test_every_admin_page_requires_login(app, client):
    make_project()
    for endpoint, _view, method, rule in admin_endpoints(app):
        url = rule.rule.replace("<export_type>", "csv")
        for argument in rule.arguments:
            url = url.replace(f"<{argument}>", "x")
        if method in POST_ONLY:
            continue
        response = client.get(url, query_string={"id": "1"})
        assert response.status_code == 302, endpoint
        assert response.headers["Location"].startswith("/login?next="), endpoint
    assert client.get("/admin/").headers["Location"].startswith("/login")
