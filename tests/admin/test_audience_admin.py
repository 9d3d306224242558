"""Audience back office: import wizard, contact profile and GDPR, suppression.

The segment builder has its own module, test_segments.
"""

from __future__ import annotations

import io
import re

import sqlalchemy as sa
from dramatiq import Worker

from mailapp.audience.lists import create_list
from mailapp.audience.tags import contact_tags
from mailapp.extensions import db
from mailapp.models import (
    AuditLog,
    Contact,
    ContactStatus,
    ContactTag,
    ImportJob,
    ImportStatus,
    ListMembership,
    Suppression,
)
from tests.admin.conftest import TOKEN, login
from tests.factories import TEST_ACTOR, make_contact, make_project, make_user
from workers.broker import broker


def token_of(page: bytes) -> str:
    return TOKEN.search(page).group(1).decode()


def run_workers() -> None:
    worker = Worker(broker, worker_timeout=100)
    worker.start()
    try:
        broker.join("imports")
        worker.join()
    finally:
        worker.stop()


def test_import_wizard_end_to_end(app, client) -> None:
    project = make_project()
    news = create_list(project.id, "News", actor=TEST_ACTOR)
    login(client, make_user(project, "marketer"))
    page = client.get("/admin/imports/")
    assert page.status_code == 200
    csv = "Email;Name;Town\nann@example.com;Ann;Berlin\nbad;Bob;Oslo\n"
    r = client.post(
        "/admin/imports/",
        data={"csrf_token": token_of(page.data), "file": (io.BytesIO(csv.encode()), "p.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 302
    job_id = int(re.search(r"/admin/imports/(\d+)/map", r.location).group(1))
    mapping = client.get(f"/admin/imports/{job_id}/map")
    assert b"ann@example.com" in mapping.data  # preview of the first rows
    r = client.post(
        f"/admin/imports/{job_id}/map",
        data={
            "csrf_token": token_of(mapping.data),
            "col-0": "email",
            "col-1": "first_name",
            "col-2": "attribute",
            "attr-2": "city",
            "list_id": str(news.id),
        },
    )
    assert r.location.endswith(f"/admin/imports/{job_id}/problems")
    problems = client.get(f"/admin/imports/{job_id}/problems")
    assert b"invalid email" in problems.data
    r = client.post(
        f"/admin/imports/{job_id}/problems",
        data={"csrf_token": token_of(problems.data), "policy": "fill_empty"},
    )
    assert r.location.endswith(f"/admin/imports/{job_id}/")
    assert client.get(f"/admin/imports/{job_id}/progress.json").json["status"] == "queued"
    run_workers()
    db.session.rollback()  # the test shares its session with the requests: end its snapshot
    progress = client.get(f"/admin/imports/{job_id}/progress.json").json
    assert progress["status"] == "done"
    assert (progress["created"], progress["invalid"]) == (1, 1)
    report = client.get(f"/admin/imports/{job_id}/report.csv")
    assert report.data.decode().splitlines()[1].startswith("3,")
    job = db.session.get(ImportJob, job_id)
    assert job.status is ImportStatus.DONE
    ann = db.session.scalar(sa.select(Contact).where(Contact.email == "ann@example.com"))
    assert ann.attributes == {"city": "Berlin"}
    assert db.session.get(ListMembership, (news.id, ann.id)) is not None


def test_import_needs_its_permission(app, client) -> None:
    project = make_project()
    login(client, make_user(project, "analyst"))
    assert client.get("/admin/imports/").status_code == 403


def test_contact_profile_bulk_lists_and_gdpr(app, client) -> None:
    project = make_project()
    contact = make_contact(project, "pat@example.com", attributes={"plan": "pro"})
    other = make_contact(make_project(), "pat@example.com")
    news = create_list(project.id, "News", actor=TEST_ACTOR)
    login(client, make_user(project, "support"))
    page = client.get(f"/admin/contact/profile/{contact.id}")
    assert page.status_code == 200
    assert b"plan" in page.data
    assert b"Not suppressed." in page.data
    assert client.get(f"/admin/contact/profile/{other.id}").status_code == 404

    lists_page = client.get(f"/admin/contact/lists?ids={contact.id}")
    client.post(
        "/admin/contact/lists",
        data={
            "csrf_token": token_of(lists_page.data),
            "ids": str(contact.id),
            "operation": "add",
            "list_id": str(news.id),
        },
    )
    assert db.session.get(ListMembership, (news.id, contact.id)) is not None

    export = client.get(f"/admin/contact/profile/{contact.id}/export.json")
    assert export.json["profile"]["email"] == "pat@example.com"
    client.post(
        f"/admin/contact/profile/{contact.id}/erase",
        data={"csrf_token": token_of(page.data), "confirmation": "pat@example.com"},
    )
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).status is ContactStatus.ERASED
    assert b"stays suppressed" in client.get(f"/admin/contact/profile/{contact.id}").data


def test_suppression_csv_import_page(app, client) -> None:
    project = make_project()
    login(client, make_user(project, "admin"))
    page = client.get("/admin/suppression/import")
    assert page.status_code == 200
    client.post(
        "/admin/suppression/import",
        data={
            "csrf_token": token_of(page.data),
            "file": (io.BytesIO(b"email\nx@example.com\ny@example.com\nbroken\n"), "s.csv"),
        },
        content_type="multipart/form-data",
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Suppression)) == 2


def test_contact_tags_bulk_action_and_profile_box(app, client) -> None:
    project = make_project()
    a, b = make_contact(project, "a@example.com"), make_contact(project, "b@example.com")
    stranger = make_contact(make_project(), "s@example.com")
    login(client, make_user(project, "marketer"))
    r = client.post(
        "/admin/contact/action/",
        data={
            "csrf_token": token_of(client.get("/admin/contact/").data),
            "action": "tags",
            "rowid": [str(a.id), str(b.id)],
        },
    )
    assert r.status_code == 302
    form = client.get(r.location)
    assert b'id="bulk-tags"' in form.data
    ids = f"{a.id},{b.id},{stranger.id}"
    data = {"csrf_token": token_of(form.data), "ids": ids, "operation": "add", "tag": "vip"}
    assert client.post("/admin/contact/tags", data=data).status_code == 302
    assert tag_set(project.id, a.id) == tag_set(project.id, b.id) == ["vip"]
    assert (
        db.session.scalar(sa.select(sa.func.count()).where(ContactTag.contact_id == stranger.id))
        == 0
    )
    data = {**data, "ids": str(b.id), "operation": "remove"}
    client.post("/admin/contact/tags", data=data)
    assert tag_set(project.id, b.id) == []

    profile = client.get(f"/admin/contact/profile/{a.id}")
    assert b'value="vip"' in profile.data
    client.post(
        f"/admin/contact/profile/{a.id}/tags",
        data={"csrf_token": token_of(profile.data), "tags": "webinar, vip2"},
    )
    assert tag_set(project.id, a.id) == ["vip2", "webinar"]
    actions = db.session.scalars(
        sa.select(AuditLog.action).where(AuditLog.project_id == project.id)
    ).all()
    assert {"contact.tag", "contact.untag", "contact.set_tags"} <= set(actions)
    assert (
        client.post(
            f"/admin/contact/profile/{stranger.id}/tags",
            data={"csrf_token": token_of(profile.data), "tags": "x"},
        ).status_code
        == 404
    )


def test_tagging_needs_contacts_write(app, client) -> None:
    project = make_project()
    contact = make_contact(project, "a@example.com")
    login(client, make_user(project, "analyst"))  # reads contacts, may not tag them
    page = client.get(f"/admin/contact/profile/{contact.id}")
    assert page.status_code == 200
    assert b"Save tags" not in page.data
    assert client.get(f"/admin/contact/tags?ids={contact.id}").status_code == 403
    r = client.post(
        f"/admin/contact/profile/{contact.id}/tags",
        data={"csrf_token": token_of(page.data), "tags": "x"},
    )
    assert r.status_code == 403
    assert contact_tags(project.id, contact.id) == []


def test_contact_edit_goes_through_the_service_validation(app, client) -> None:
    project = make_project()
    contact = make_contact(project, "pat@example.com", timezone="Europe/Berlin")
    make_contact(project, "taken@example.com")
    login(client, make_user(project, "marketer"))
    page = client.get(f"/admin/contact/edit/?id={contact.id}")
    base = {"csrf_token": token_of(page.data), "email": "pat@example.com"}
    for changes, message in (
        ({"timezone": "Mars/Olympus"}, b"not an IANA zone name"),
        ({"email": "pat@host.local"}, b"invalid email"),
        ({"email": "taken@example.com"}, b"another contact already has"),
    ):
        r = client.post(f"/admin/contact/edit/?id={contact.id}", data={**base, **changes})
        assert r.status_code == 200  # the form again, the reason next to the field
        assert message.lower() in r.data.lower()
        assert b"is-invalid" in r.data
        db.session.expire_all()
        assert (contact.email, contact.timezone) == ("pat@example.com", "Europe/Berlin")
    r = client.post(
        f"/admin/contact/edit/?id={contact.id}",
        data={**base, "email": "Info@Example.COM", "timezone": "Asia/Tokyo"},
    )
    assert r.status_code == 302
    db.session.expire_all()
    assert (contact.email, contact.email_raw) == ("info@example.com", "Info@Example.COM")
    assert (contact.timezone, contact.is_role_address) == ("Asia/Tokyo", True)
    r = client.post(
        "/admin/contact/new/",
        data={**base, "email": "new@example.com", "timezone": "Nowhere/Town"},
    )
    assert b"not an IANA zone name" in r.data
    assert db.session.scalar(sa.select(Contact).where(Contact.email == "new@example.com")) is None


def tag_set(project_id: int, contact_id: int) -> list[str]:
    db.session.expire_all()
    return contact_tags(project_id, contact_id)
