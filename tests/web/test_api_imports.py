"""Imports API: upload, problems preview, mapping errors, a real run on the import queue, the
report of rejected rows with their lines, tenancy and scopes."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa

from mailapp.access.apikeys import create_api_key
from mailapp.audience.lists import create_list
from mailapp.extensions import db
from mailapp.models import AuditLog, Contact, ImportJob, ListMembership
from tests.factories import TEST_ACTOR, make_project
from tests.support.pipeline import run_queue
from workers.actors.audience import run_import

PEOPLE = (
    "email,first_name,plan\n"
    "ann@example.com,Ann,pro\n"
    "bob@example.com,Bob\n"  # line 3: a field missing
    "carl@example.com,Carl,free\n"
    "not-an-email,Dan,free\n"  # line 5: not an address
)


def bearer(project, *scopes):
    _, key = create_api_key(project.id, "test", list(scopes), actor=TEST_ACTOR)
    return {"Authorization": f"Bearer {key}"}


def upload(client, headers, text=PEOPLE, name="people.csv"):
    return client.post(
        "/api/v1/imports",
        data={"file": (io.BytesIO(text.encode()), name)},
        content_type="multipart/form-data",
        headers=headers,
    )


def test_an_import_through_the_api_reports_its_bad_rows_with_their_lines(app, client):
    project = make_project()
    news = create_list(project.id, "News", actor=TEST_ACTOR)
    headers = bearer(project, "contacts.import")

    uploaded = upload(client, headers)
    assert uploaded.status_code == 201
    job = uploaded.get_json()
    assert job["status"] == "uploaded"
    assert job["filename"] == "people.csv"
    assert job["delimiter"] == ","
    assert job["header"] == ["email", "first_name", "plan"]
    assert job["mapping"] == {
        "email": "email",
        "first_name": "first_name",
        "plan": "attributes.plan",
    }
    assert job["preview"][0] == ["ann@example.com", "Ann", "pro"]

    problems = client.get(f"/api/v1/imports/{job['id']}/problems", headers=headers)
    assert problems.status_code == 200
    preview = problems.get_json()
    assert preview["checked"] == 4
    assert preview["complete"] is True
    assert preview["counts"] == {"malformed": 1, "invalid email": 1}
    assert {"line": 3, "problem": "expected 3 fields, found 2"} in preview["examples"]

    started = client.post(
        f"/api/v1/imports/{job['id']}/start",
        json={"mapping": job["mapping"], "list_id": news.id, "policy": "update"},
        headers=headers,
    )
    assert started.status_code == 202
    assert started.get_json()["status"] == "queued"
    run_queue(run_import.queue_name)
    db.session.rollback()

    done = client.get(f"/api/v1/imports/{job['id']}", headers=headers).get_json()
    assert done["status"] == "done"
    assert done["list_id"] == news.id
    assert (done["total"], done["processed"]) == (4, 4)
    assert (done["created"], done["updated"], done["skipped"], done["invalid"]) == (2, 0, 0, 2)
    assert done["finished_at"] is not None
    contacts = db.session.scalars(sa.select(Contact).where(Contact.project_id == project.id))
    assert {c.email: c.attributes for c in contacts} == {
        "ann@example.com": {"plan": "pro"},
        "carl@example.com": {"plan": "free"},
    }
    members = db.session.scalar(sa.select(sa.func.count()).where(ListMembership.list_id == news.id))
    assert members == 2

    report = client.get(f"/api/v1/imports/{job['id']}/report", headers=headers)
    assert report.status_code == 200
    assert report.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(report.get_data(as_text=True))))
    assert rows[0] == ["line", "reason", "row"]
    assert [row[0] for row in rows[1:]] == ["3", "5"]
    assert rows[1][1] == "expected 3 fields, found 2"
    assert rows[1][2] == "bob@example.com,Bob"
    assert "invalid email" in rows[2][1]

    listed = client.get("/api/v1/imports", headers=headers).get_json()
    assert [i["id"] for i in listed] == [job["id"]]
    again = client.post(
        f"/api/v1/imports/{job['id']}/start", json={"mapping": job["mapping"]}, headers=headers
    )
    assert again.status_code == 422
    assert "already started" in again.get_json()["error"]["message"]
    late = client.get(f"/api/v1/imports/{job['id']}/problems", headers=headers)
    assert late.status_code == 422
    actions = set(db.session.scalars(sa.select(AuditLog.action)))
    assert {"import.upload", "import.map", "import.start"} <= actions


def test_a_wrong_mapping_is_refused_naming_the_problem(app, client):
    project = make_project()
    headers = bearer(project, "contacts.import")
    job = upload(client, headers).get_json()
    start = f"/api/v1/imports/{job['id']}/start"
    cases = {
        "the file has no column 'mail'": {"mail": "email"},
        "map one column to email": {"email": "", "first_name": "first_name"},
        "'shoe_size' is not a contact field": {"email": "email", "plan": "shoe_size"},
        "two columns are mapped to 'email'": {"email": "email", "first_name": "email"},
    }
    for message, mapping in cases.items():
        refused = client.post(start, json={"mapping": mapping}, headers=headers)
        assert refused.status_code == 422, message
        assert message in refused.get_json()["error"]["message"]
    typed = client.post(start, json={"mapping": {"email": 1}, "policy": "merge"}, headers=headers)
    assert typed.status_code == 422
    assert set(typed.get_json()["error"]["fields"]) == {"mapping.email", "policy"}
    unmapped = client.post(start, json={}, headers=headers)
    assert unmapped.status_code == 422
    assert "map the columns" in unmapped.get_json()["error"]["message"]
    assert db.session.get(ImportJob, job["id"]).status.value == "uploaded"

    # A mapping set on its own is what the problems preview then checks.
    mapped = client.put(
        f"/api/v1/imports/{job['id']}/mapping",
        json={"mapping": {"email": "email", "first_name": "", "plan": ""}},
        headers=headers,
    )
    assert mapped.status_code == 200
    assert mapped.get_json()["mapping"] == {"email": "email"}
    assert mapped.get_json()["status"] == "mapped"
    preview = client.get(f"/api/v1/imports/{job['id']}/problems", headers=headers).get_json()
    assert preview["counts"] == {"malformed": 1, "invalid email": 1}


def test_bad_uploads_are_refused(app, client):
    project = make_project()
    headers = bearer(project, "contacts.import")
    empty = upload(client, headers, text="")
    assert empty.status_code == 422
    assert "empty" in empty.get_json()["error"]["message"]
    missing = client.post(
        "/api/v1/imports", data={}, content_type="multipart/form-data", headers=headers
    )
    assert missing.status_code == 422
    assert missing.get_json()["error"]["fields"] == {"file": "required"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ImportJob)) == 0


def test_another_projects_import_is_404_and_scopes_are_enforced(app, client):
    project, other = make_project(), make_project()
    theirs = upload(client, bearer(other, "contacts.import")).get_json()
    headers = bearer(project, "contacts.import")
    base = f"/api/v1/imports/{theirs['id']}"
    assert client.get(base, headers=headers).status_code == 404
    assert client.get(f"{base}/problems", headers=headers).status_code == 404
    assert client.get(f"{base}/report", headers=headers).status_code == 404
    mapping = {"mapping": {"email": "email"}}
    assert client.put(f"{base}/mapping", json=mapping, headers=headers).status_code == 404
    assert client.post(f"{base}/start", json=mapping, headers=headers).status_code == 404
    assert client.get("/api/v1/imports", headers=headers).get_json() == []
    assert db.session.get(ImportJob, theirs["id"]).status.value == "uploaded"

    assert upload(client, {}).status_code == 401
    writer = bearer(project, "contacts.write", "contacts.read")
    assert upload(client, writer).status_code == 403
    assert client.get("/api/v1/imports", headers=writer).status_code == 403
    assert client.get(f"{base}/report", headers=writer).status_code == 403


def test_openapi_lists_the_import_paths_with_their_scope(app, client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    expected = {
        "/api/v1/imports": {"get", "post"},
        "/api/v1/imports/{job_id}": {"get"},
        "/api/v1/imports/{job_id}/mapping": {"put"},
        "/api/v1/imports/{job_id}/problems": {"get"},
        "/api/v1/imports/{job_id}/start": {"post"},
        "/api/v1/imports/{job_id}/report": {"get"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) == methods, path
        for method in methods:
            assert paths[path][method]["x-required-scope"] == "contacts.import"
    upload_body = paths["/api/v1/imports"]["post"]["requestBody"]["content"]
    assert upload_body["multipart/form-data"]["schema"]["required"] == ["file"]
    assert "202" in paths["/api/v1/imports/{job_id}/start"]["post"]["responses"]
