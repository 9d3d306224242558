"""Settings → Transports and the sender's page: list (kind, host, never the secret), add,
edit with a write-only URL, move, remove, health in plain words; CSRF and permissions."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from mailapp.delivery.transport_choice import shared_health
from mailapp.extensions import db
from mailapp.models import AuditLog, SenderTransport
from tests.admin.conftest import csrf_token, login
from tests.factories import make_project, make_sender, make_user

SMTP = "smtp://relay-user:hunter2pass@relay.example.net:587?starttls=1"
MAILGUN = "mailgun+https://api:key-hunter2key@api.mailgun.net/v3/example.com"


@pytest.fixture
def owner(client):
    project = make_project()
    sender = make_sender(project)
    login(client, make_user(project, "owner"))
    return project, sender


def add(client, sender, **fields):
    data = {"csrf_token": csrf_token(client), "weight": "1", "enabled": "on", **fields}
    return client.post(f"/admin/transports/{sender.id}/", data=data)


def names(sender_id):
    db.session.expire_all()
    return db.session.scalars(
        sa.select(SenderTransport.name)
        .where(SenderTransport.sender_id == sender_id)
        .order_by(SenderTransport.position)
    ).all()


def test_transports_are_added_shown_without_secrets_and_with_their_health(client, owner):
    _, sender = owner
    page = client.get(f"/admin/transports/{sender.id}/").get_data(as_text=True)
    assert "No transports: this sender's mail goes via the server's relay" in page
    assert add(client, sender, name="Main relay", url=SMTP).status_code == 302
    assert add(client, sender, name="Mailgun backup", url=MAILGUN, weight="0").status_code == 302
    assert names(sender.id) == ["Main relay", "Mailgun backup"]
    main, backup = db.session.scalars(
        sa.select(SenderTransport).order_by(SenderTransport.position)
    ).all()
    health = shared_health()
    for _ in range(3):
        health.record_answer(main.id, sent=True)
    for _ in range(5):
        health.record_relay_error(
            backup.id, "ConnectionRefusedError: [Errno 111] Connection refused"
        )
    for url in (f"/admin/transports/{sender.id}/", f"/admin/sender/edit/?id={sender.id}"):
        page = client.get(url).get_data(as_text=True)
        assert "hunter2" not in page
        assert "relay.example.net:587" in page
        assert "api.mailgun.net" in page
        assert "Mailgun" in page
        assert "backup only" in page
        assert "Healthy: 3 sent in the last 15 min" in page
        assert "Paused for 2 min after 5 errors in a row" in page
    # The edit page never writes the URL back; an empty field keeps it.
    edit = client.get(f"/admin/transports/{sender.id}/{main.id}/edit").get_data(as_text=True)
    assert "hunter2" not in edit
    answer = client.post(
        f"/admin/transports/{sender.id}/{main.id}/edit",
        data={"csrf_token": csrf_token(client), "name": "Main", "url": "", "weight": "3"},
    )
    assert answer.status_code == 302
    db.session.expire_all()
    stored = db.session.get(SenderTransport, main.id)
    assert (stored.name, stored.weight, stored.enabled) == ("Main", 3, False)
    assert stored.url == SMTP
    audit = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.action.like("sender.transport.%"))
    ).all()
    assert len(audit) == 3
    assert all("hunter2" not in str(e.context) for e in audit)


def test_transports_move_and_are_removed(client, owner):
    _, sender = owner
    for name in ("A", "B", "C"):
        add(client, sender, name=name, url=SMTP)
    c = db.session.scalar(sa.select(SenderTransport).where(SenderTransport.name == "C"))
    move = f"/admin/transports/{sender.id}/{c.id}/move"
    client.post(move, data={"csrf_token": csrf_token(client), "direction": "up"})
    assert names(sender.id) == ["A", "C", "B"]
    client.post(move, data={"csrf_token": csrf_token(client), "direction": "up"})
    client.post(move, data={"csrf_token": csrf_token(client), "direction": "up"})
    assert names(sender.id) == ["C", "A", "B"]
    answer = client.post(
        f"/admin/transports/{sender.id}/{c.id}/remove", data={"csrf_token": csrf_token(client)}
    )
    assert answer.status_code == 302
    assert names(sender.id) == ["A", "B"]


def test_a_wrong_url_is_named_and_nothing_is_saved(client, owner):
    _, sender = owner
    page = add(client, sender, name="Bad", url="ftp://relay.example.net").get_data(as_text=True)
    assert "Nothing was saved" in page
    assert re.search(r'data-error-for="url">Server address: .*smtp://', page)
    assert "ftp://relay" not in page  # a typed URL is not echoed back either
    assert names(sender.id) == []


def test_changes_need_post_and_csrf_and_stay_in_the_project(client, owner):
    _, sender = owner
    add(client, sender, name="Mine", url=SMTP)
    mine = db.session.scalar(sa.select(SenderTransport))
    assert client.get(f"/admin/transports/{sender.id}/{mine.id}/remove").status_code == 405
    assert client.post(f"/admin/transports/{sender.id}/{mine.id}/remove").status_code == 400
    assert (
        client.post(f"/admin/transports/{sender.id}/", data={"name": "x", "url": SMTP}).status_code
        == 400
    )
    other = make_sender(make_project())
    token = csrf_token(client)
    assert client.get(f"/admin/transports/{other.id}/").status_code == 404
    assert (
        client.post(
            f"/admin/transports/{other.id}/{mine.id}/remove", data={"csrf_token": token}
        ).status_code
        == 404
    )
    assert names(sender.id) == ["Mine"]


@pytest.mark.parametrize("role", ["marketer", "analyst", "support"])
def test_roles_without_senders_manage_are_refused(client, role):
    project = make_project()
    sender = make_sender(project)
    login(client, make_user(project, role))
    assert client.get("/admin/transports/").status_code == 403
    assert client.get(f"/admin/transports/{sender.id}/").status_code == 403
