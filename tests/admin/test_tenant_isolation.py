"""A user of project A never reaches project B's rows: every object URL of B is a 404."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailapp.access.permissions import Permission
from mailapp.admin.base import ProjectModelView
from mailapp.extensions import db
from mailapp.models import Template, TemplateVersion
from tests.admin.conftest import csrf_token, login, make_rows
from tests.factories import make_project, make_user


@pytest.fixture
def two_projects(app, client):
    project_a, project_b = make_project("alpha"), make_project("bravo")
    rows_a, rows_b = make_rows(project_a), make_rows(project_b)
    user = make_user(project_a, "owner")
    login(client, user)
    return rows_a, rows_b


def scoped_views(app):
    return [v for v in app.extensions["mailapp_admin"]._views if isinstance(v, ProjectModelView)]


def still_there(row) -> bool:
    db.session.expire_all()
    model = type(row)
    return db.session.scalar(sa.select(model.id).where(model.id == row.id)) is not None


def test_other_projects_objects_are_404_everywhere(app, client, two_projects):
    rows_a, rows_b = two_projects
    token = csrf_token(client)
    for view in scoped_views(app):
        if "details_view" in view.superuser_only:
            continue  # rows of no project, for operators: tests/admin/test_inbound_strays.py
        theirs, ours = rows_b[view.endpoint], rows_a[view.endpoint]
        base = f"/admin/{view.endpoint}"
        for page in ("details", "edit"):
            mine = client.get(f"{base}/{page}/", query_string={"id": ours.id})
            if mine.status_code == 404:  # the view has this page switched off
                continue
            assert mine.status_code == 200, (view.endpoint, page)
            response = client.get(f"{base}/{page}/", query_string={"id": theirs.id})
            assert response.status_code == 404, (view.endpoint, page)
        response = client.post(
            f"{base}/edit/", query_string={"id": theirs.id}, data={"csrf_token": token}
        )
        assert response.status_code in (403, 404), view.endpoint
        response = client.post(f"{base}/delete/", data={"csrf_token": token, "id": theirs.id})
        assert response.status_code in (403, 404), view.endpoint
        client.post(
            f"{base}/action/",
            data={"csrf_token": token, "action": "delete", "rowid": str(theirs.id)},
        )
        assert still_there(theirs), view.endpoint


def test_lists_searches_and_exports_show_only_the_current_project(app, client, two_projects):
    for view in scoped_views(app):
        base = f"/admin/{view.endpoint}/"
        listing = client.get(base).data.decode()
        assert "bravo-marker" not in listing, view.endpoint
        if view.column_searchable_list:
            found = client.get(base, query_string={"search": "bravo"}).data.decode()
            assert "bravo-marker" not in found, view.endpoint
            assert "There are no items in the table" in found or "bravo" not in found
    export = client.get("/admin/contact/export/csv/")
    assert export.status_code == 200
    assert b"alpha-marker@example.org" in export.data
    assert b"bravo-marker" not in export.data
    active = client.get("/admin/contact/", query_string={"flt0_0": "active"})
    assert b"alpha-marker@example.org" in active.data
    assert b"bravo-marker" not in active.data
    nonsense = client.get("/admin/contact/", query_string={"flt0_0": "no-such-status"})
    assert nonsense.status_code == 200


def test_ajax_lookups_and_relation_selects_offer_only_the_current_project(
    app, client, two_projects
):
    class VersionAjaxPicker(ProjectModelView):
        permission = Permission.TEMPLATES_WRITE
        form_columns = ["name", "published_version"]
        form_ajax_refs = {"published_version": {"fields": ["subject"]}}

    class VersionSelectPicker(ProjectModelView):
        permission = Permission.TEMPLATES_WRITE
        form_columns = ["name", "published_version"]

    admin = app.extensions["mailapp_admin"]
    admin.add_view(VersionAjaxPicker(Template, name="Ajax", endpoint="ajaxpicker"))
    admin.add_view(VersionSelectPicker(Template, name="Select", endpoint="selectpicker"))
    rows_a, rows_b = two_projects
    versions = {}
    for key, rows in (("a", rows_a), ("b", rows_b)):
        template = rows["template"]
        versions[key] = TemplateVersion(
            project_id=template.project_id,
            template_id=template.id,
            number=1,
            subject=f"{template.name} subject",
            html="<p>hi</p>",
        )
        db.session.add(versions[key])
    db.session.commit()
    found = client.get(
        "/admin/ajaxpicker/ajax/lookup/",
        query_string={"name": "published_version", "query": "marker"},
    )
    assert found.status_code == 200
    assert [row[0] for row in found.json] == [versions["a"].id]
    form = client.get("/admin/selectpicker/new/").data.decode()
    assert f'value="{versions["a"].id}"' in form
    assert f'value="{versions["b"].id}"' not in form
