"""The development Outbox: each project sees only the mail it sent, its HTML sandboxed, and
the page does not exist outside development (issue 15, item 6)."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest

from mailapp.urls import LinkSigner
from tests.admin.conftest import login
from tests.factories import (
    make_contact,
    make_delivery,
    make_message,
    make_project,
    make_sent_campaign,
    make_template,
    make_user,
)


@pytest.fixture
def outbox_on(database_url, redis_url, tmp_path):
    """An app as in development, where the Outbox exists (the `app` fixture is `testing`)."""
    from mailapp import create_app
    from mailapp.extensions import db
    from tests.conftest import app_config

    app = create_app(app_config(database_url, redis_url, tmp_path / "dev", DEV_OUTBOX=True))
    with app.test_request_context():
        yield app
        db.session.remove()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def dev_client(outbox_on):
    return outbox_on.test_client()


def capture(app, envelope: str, subject: str, html: str = "<p>Hi</p>", message_id: str = "") -> str:
    """Store a message the way the capture SMTP server (mailapp.dev) does."""
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    box = mailbox.Maildir(instance / "outbox", create=True)
    message = (
        "X-Captured-At: Sun, 22 Nov 2026 10:00:00 -0000\r\n"
        f"X-Captured-Mail-From: {envelope}\r\n"
        "X-Captured-Rcpt-To: ada@example.org\r\n"
        f"From: news@acme.example\r\nTo: ada@example.org\r\nSubject: {subject}\r\n"
        + (f"Message-ID: {message_id}\r\n" if message_id else "")
        + "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        + html
    )
    return box.add(message.encode())


def campaign_mail(app, project, subject: str, html: str = "<p>Hi</p>") -> str:
    contact = make_contact(project)
    delivery = make_delivery(make_sent_campaign(project), contact)
    verp = LinkSigner.from_app().verp_address(delivery.id, "bounces.example")
    return capture(app, verp, subject, html)


def test_the_outbox_shows_only_this_projects_mail(outbox_on, dev_client):
    acme, other = make_project("acme"), make_project("other")
    login(dev_client, make_user(acme, "owner"))
    mine = campaign_mail(outbox_on, acme, "Acme newsletter")
    theirs = campaign_mail(outbox_on, other, "Other newsletter")
    message = make_message(acme)
    receipt = LinkSigner.from_app("message").verp_address(message.id, "bounces.example")
    capture(outbox_on, receipt, "Acme receipt")
    version_id = make_template(acme).published_version_id
    capture(
        outbox_on,
        "bounces@bounces.example",
        "[TEST] Acme draft",
        message_id=f"<test.0a1b2c.{version_id}@acme.example>",
    )
    capture(outbox_on, "someone@elsewhere.example", "Not from mailapp")
    listing = dev_client.get("/admin/outbox/").data.decode()
    assert "Acme newsletter" in listing
    assert "Acme receipt" in listing
    assert "[TEST] Acme draft" in listing
    assert "Other newsletter" not in listing
    assert "Not from mailapp" not in listing
    assert dev_client.get(f"/admin/outbox/{mine}/").status_code == 200
    assert dev_client.get(f"/admin/outbox/{theirs}/").status_code == 404
    assert dev_client.get(f"/admin/outbox/{theirs}/body").status_code == 404


def test_operators_also_see_mail_of_no_project(outbox_on, dev_client):
    acme = make_project("acme")
    operator = make_user(acme, "owner")
    operator.is_superuser = True
    login(dev_client, operator)
    key = capture(outbox_on, "someone@elsewhere.example", "Not from mailapp")
    listing = dev_client.get("/admin/outbox/").data.decode()
    assert "Not from mailapp" in listing
    assert "no project" in listing
    assert dev_client.get(f"/admin/outbox/{key}/").status_code == 200


def test_a_captured_messages_html_is_sandboxed(outbox_on, dev_client):
    acme = make_project("acme")
    login(dev_client, make_user(acme, "owner"))
    key = campaign_mail(outbox_on, acme, "Hello Ada", "<p>Hi</p><script>alert(1)</script>")
    page = dev_client.get(f"/admin/outbox/{key}/").data.decode()
    assert f'<iframe sandbox="" src="/admin/outbox/{key}/body"' in page
    body = dev_client.get(f"/admin/outbox/{key}/body")
    assert body.status_code == 200
    assert "script-src" not in body.headers["Content-Security-Policy"]
    assert body.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "sandbox" in body.headers["Content-Security-Policy"]
    assert dev_client.get("/admin/outbox/../../etc/passwd/body").status_code == 404
    assert dev_client.get("/admin/outbox/no-such-key/body").status_code == 404


def test_the_outbox_is_for_owners_and_admins_only(outbox_on, dev_client):
    login(dev_client, make_user(make_project("acme"), "marketer"))
    assert dev_client.get("/admin/outbox/").status_code == 403


def test_outside_development_the_outbox_does_not_exist(app, client):
    assert app.config["DEV_OUTBOX"] is False  # testing, like production
    acme = make_project("acme")
    login(client, make_user(acme, "owner"))
    key = campaign_mail(app, acme, "Acme newsletter")
    assert client.get("/admin/outbox/").status_code == 404
    assert client.get(f"/admin/outbox/{key}/").status_code == 404
    assert client.get(f"/admin/outbox/{key}/body").status_code == 404
    assert "/admin/outbox/" not in client.get("/admin/").data.decode()
    assert "outbox" not in {view.endpoint for view in app.extensions["mailapp_admin"]._views}


def test_development_configuration_turns_the_outbox_on(app):
    from mailapp.config import load_config

    base = {"ENCRYPTION_KEY": app.config["ENCRYPTION_KEY"], "SECRET_KEY": "s" * 40}
    development = load_config({**base, "MAILAPP_ENV": "development"}, Path(app.instance_path))
    production = load_config(
        {
            **base,
            "MAILAPP_ENV": "production",
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "DATABASE_URL": "postgresql://x@127.0.0.1/x",
        },
        Path(app.instance_path),
    )
    assert development["DEV_OUTBOX"] is True
    assert production["DEV_OUTBOX"] is False
