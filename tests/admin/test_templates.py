"""Back office: template versions, review and publishing, preview, test send, assets."""

import io
import re

import pytest
from PIL import Image

from mailapp.access.audit import Actor
from mailapp.content.templates import Content, create_template
from mailapp.extensions import db
from mailapp.models import Asset, Sender, Template, VersionStatus
from tests.admin.conftest import csrf_token, login
from tests.factories import make_contact, make_project, make_user
from tests.support.smtp_sink import SmtpSink

HTML = (
    '<p>Hi {{ contact.first_name | default("there") }}</p>'
    '<p><a href="https://shop.example/sale">Sale</a> '
    '<a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
)


@pytest.fixture
def marketer(app, client):
    project = make_project()
    user = make_user(project, "marketer")
    login(client, user)
    return project


def test_create_edit_review_publish_through_pages(app, client, marketer):
    token = csrf_token(client)
    response = client.post(
        "/admin/template/new/",
        data={"csrf_token": token, "name": "Welcome", "kind": "marketing", "editor": "html"},
    )
    assert response.status_code == 302
    template = db.session.scalar(db.select(Template).where(Template.project_id == marketer.id))
    assert response.location.endswith(f"/admin/template/{template.id}/draft/")
    # The starter layout is a valid first draft, its <style> already inlined.
    starter = template.versions[0]
    assert "{{ unsubscribe_url }}" in starter.html
    assert "<style" not in starter.html
    assert 'class="footer" style="padding: 16px 24px;' in starter.html
    editor = client.get(response.location)
    assert b"unsubscribe_url" in editor.data
    form = {
        "csrf_token": token,
        "subject": "Hi",
        "html": HTML,
        "locale": "en",
        "locale_variants": "",
        "comment": "first",
    }

    # A bad edit is refused with its line and reason, and nothing changes.
    bad = form | {"html": "<p>ok</p>\n<p>{{ contact.phone }}</p>"}
    page = client.post(f"/admin/template/{template.id}/draft/", data=bad)
    assert page.status_code == 200
    assert b"html line 2: unknown variable &#39;contact.phone&#39;" in page.data
    good = form | {"subject": "Hello {{ contact.first_name }}"}
    assert client.post(f"/admin/template/{template.id}/draft/", data=good).status_code == 302
    version = template.versions[0]
    db.session.refresh(version)
    assert version.subject == "Hello {{ contact.first_name }}"

    for action in ("submit", "publish"):
        response = client.post(
            f"/admin/template/version/{version.id}/{action}/",
            data={"csrf_token": token, "comment": f"{action} ok"},
        )
        assert response.status_code == 302
    # A marketer writes and submits; publishing is an owner's or admin's review.
    page = client.get(f"/admin/template/{template.id}/versions/")
    assert b"needs the templates.publish permission" in page.data
    assert b'data-needs="templates.publish"' in page.data
    assert b'value="publish"' not in page.data
    db.session.refresh(version)
    assert version.status == VersionStatus.REVIEW


def test_a_reviewer_publishes_through_the_page(app, client):
    project = make_project()
    author = make_user(project, "marketer")
    template = create_template(
        project,
        "News",
        Content(subject="Hi", html=HTML),
        actor=Actor(label=author.email, user_id=author.id),
    )
    version = template.versions[0]
    login(client, make_user(project, "admin"))
    token = csrf_token(client)
    for action in ("submit", "publish"):
        response = client.post(
            f"/admin/template/version/{version.id}/{action}/",
            data={"csrf_token": token, "comment": f"{action} ok"},
        )
        assert response.status_code == 302
    db.session.refresh(version)
    assert version.status == VersionStatus.PUBLISHED
    page = client.get(f"/admin/template/{template.id}/versions/")
    assert b"published" in page.data
    assert b"Preview" in page.data


def test_preview_page_and_sandboxed_body(app, client, marketer):
    template = create_template(
        marketer,
        "T",
        Content(subject="S {{ contact.first_name }}", html=HTML),
        actor=Actor.system(),
    )
    version = template.versions[0]
    contact = make_contact(marketer, first_name="Zoë")
    page = client.get(
        f"/admin/template/version/{version.id}/preview/?width=320&dark=1&contact_id={contact.id}"
    )
    assert page.status_code == 200
    text = page.data.decode()
    assert 'sandbox=""' in text
    assert "width: 320px" in text
    assert "S Zoë" in text
    assert 'data-check="unsubscribe_link"' in text
    src = re.search(r'id="preview-frame"[^>]*src="([^"]+)"', text, re.S)[1].replace("&amp;", "&")
    body = client.get(src)
    assert "Hi Zoë" in body.data.decode()
    assert "invert(1)" in body.data.decode()
    assert "script-src" not in body.headers["Content-Security-Policy"]
    assert "sandbox" in body.headers["Content-Security-Policy"]
    # Its unsubscribe link is a working test link: a page that says so and changes nothing.
    leave = re.search(r'href="http://mail\.test(/u/[^"]+)"', body.data.decode())[1]
    assert "test message or a preview" in client.get(leave).data.decode()
    assert (
        client.get(f"/admin/template/version/{version.id}/preview/?contact_id=999999").status_code
        == 200
    )


def test_test_send_from_the_preview_page(app, client, marketer):
    sink = SmtpSink().start()
    try:
        sender = Sender(
            project_id=marketer.id,
            name="N",
            from_name="Shop",
            from_email="news@shop.example",
            domain="shop.example",
            transport_url=sink.url,
        )
        db.session.add(sender)
        db.session.commit()
        template = create_template(
            marketer, "T", Content(subject="Sale", html=HTML), actor=Actor.system()
        )
        version_id = template.versions[0].id
        response = client.post(
            f"/admin/template/version/{version_id}/test-send/",
            data={
                "csrf_token": csrf_token(client),
                "recipients": "qa@example.org",
                "sender_id": sender.id,
            },
        )
        assert response.status_code == 302
        assert len(sink.messages) == 1
        assert b"Subject: [TEST] Sale" in sink.messages[0].data
    finally:
        sink.stop()


def test_roles_without_permission_are_refused(app, client):
    project = make_project()
    login(client, make_user(project, "analyst"))
    template = create_template(project, "T", Content(subject="S", html=HTML), actor=Actor.system())
    version = template.versions[0]
    assert client.get("/admin/template/").status_code == 403
    assert client.get(f"/admin/template/version/{version.id}/preview/").status_code == 403
    assert client.get("/admin/asset_library/").status_code == 403


def test_other_projects_templates_are_404(app, client, marketer):
    other = make_project()
    template = create_template(other, "T", Content(subject="S", html=HTML), actor=Actor.system())
    assert client.get(f"/admin/template/{template.id}/versions/").status_code == 404
    assert (
        client.get(f"/admin/template/version/{template.versions[0].id}/preview/").status_code == 404
    )


def test_assets_page_upload_and_delete(app, client, marketer):
    png = io.BytesIO()
    Image.new("RGB", (10, 10)).save(png, format="PNG")
    token = csrf_token(client)
    response = client.post(
        "/admin/asset_library/upload",
        data={
            "csrf_token": token,
            "files": [(io.BytesIO(png.getvalue()), "logo.png"), (io.BytesIO(b"<svg/>"), "x.svg")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    asset = db.session.scalar(db.select(Asset).where(Asset.project_id == marketer.id))
    assert asset.filename == "logo.png"
    page = client.get("/admin/asset_library/")
    assert f"http://mail.test/a/{asset.storage_key}".encode() in page.data
    client.post(f"/admin/asset_library/{asset.id}/delete", data={"csrf_token": token})
    assert db.session.scalar(db.select(Asset).where(Asset.project_id == marketer.id)) is None


def test_dkim_page_generates_a_key_and_shows_the_record(app, client):
    project = make_project()
    login(client, make_user(project, "admin"))
    sender = Sender(
        project_id=project.id,
        name="N",
        from_name="Shop",
        from_email="news@shop.example",
        domain="shop.example",
    )
    db.session.add(sender)
    db.session.commit()
    assert b"no key" in client.get("/admin/dkim/").data
    response = client.post(
        f"/admin/dkim/{sender.id}/generate", data={"csrf_token": csrf_token(client)}
    )
    assert response.status_code == 302
    db.session.refresh(sender)
    page = client.get("/admin/dkim/").data.decode()
    assert f"{sender.dkim_selector}._domainkey.shop.example" in page
    assert '"v=DKIM1; k=rsa; p=' in page
