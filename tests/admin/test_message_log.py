"""The activity log, a message's page, its resend and the transactional dashboard, as the
roles that use them."""

from __future__ import annotations

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.models import AuditLog, DeliveryStatus, Message
from tests.admin.conftest import csrf_token
from tests.factories import make_project, make_sender, make_user, submit_tx


def sent(message):
    message = db.session.get(Message, message.id)
    message.status, message.last_reply = DeliveryStatus.SENT, "250 2.0.0 Ok: queued as 7F"
    db.session.commit()
    return message


def test_support_finds_a_message_and_reads_its_history(app, as_user):
    project = make_project("shop")
    make_sender(project)
    message = sent(submit_tx(project, "ada@example.org", tags=["password-reset"]))
    submit_tx(project, "bob@example.org")
    client = as_user(make_user(project, "support"))

    log = client.get("/admin/messages/", query_string={"q": "ADA@example.org"})
    assert log.status_code == 200
    page = log.data.decode()
    assert "ada@example.org" in page
    assert "bob@example.org" not in page
    assert "password-reset" in page
    assert "250 2.0.0 Ok: queued as 7F" in page

    detail = client.get(f"/admin/messages/{message.id}/").data.decode()
    assert "Accepted by the API" in detail
    assert 'sandbox=""' in detail
    assert "Your receipt" in detail  # the re-rendered Subject header
    body = client.get(f"/admin/messages/{message.id}/body")
    assert "script-src" not in body.headers["Content-Security-Policy"]
    assert "default-src 'none'" in body.headers["Content-Security-Policy"]
    assert "Thanks" in body.data.decode()


def test_resend_makes_a_new_message_and_needs_the_form_token(app, as_user):
    project = make_project("shop")
    make_sender(project)
    message = sent(submit_tx(project))
    client = as_user(make_user(project, "support"))
    assert client.post(f"/admin/messages/{message.id}/resend").status_code == 400  # no CSRF
    response = client.post(
        f"/admin/messages/{message.id}/resend", data={"csrf_token": csrf_token(client)}
    )
    copy = db.session.scalar(sa.select(Message).where(Message.resend_of_id == message.id))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/admin/messages/{copy.id}/")
    assert db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "message.resend"))
    again = client.post(
        f"/admin/messages/{copy.id}/resend", data={"csrf_token": csrf_token(client)}
    )
    assert again.status_code == 302  # refused: the copy is still queued
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) == 2


def test_log_is_per_project_and_bad_filters_say_which_field(app, as_user):
    project, other = make_project("shop"), make_project("other")
    make_sender(other)
    foreign = submit_tx(other, "secret@example.org")
    client = as_user(make_user(project, "support"))
    assert client.get(f"/admin/messages/{foreign.id}/").status_code == 404
    assert "secret@example.org" not in client.get("/admin/messages/").data.decode()
    bad = client.get("/admin/messages/", query_string={"status": "lost"})
    assert bad.status_code == 400
    assert "status: &#39;lost&#39; is not one of" in bad.data.decode()


def test_export_is_csv_of_the_filtered_log_and_audited(app, as_user):
    project = make_project("shop")
    make_sender(project)
    submit_tx(project, "ada@example.org", tags=["receipt"])
    submit_tx(project, "bob@example.org")
    client = as_user(make_user(project, "support"))
    response = client.get("/admin/messages/export.csv", query_string={"tag": "receipt"})
    assert response.mimetype == "text/csv"
    lines = response.data.decode().splitlines()
    assert len(lines) == 2
    assert "ada@example.org" in lines[1]
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "messages.export"))
    assert entry.context["filters"] == {"tag": "receipt"}


def test_analysts_see_the_dashboard_not_the_log(app, as_user):
    project = make_project("shop")
    make_sender(project)
    submit_tx(project, tags=["receipt"])
    client = as_user(make_user(project, "analyst"))
    assert client.get("/admin/messages/").status_code == 403
    by_tag = client.get("/admin/message_stats/", query_string={"by": "tag"})
    assert by_tag.status_code == 200
    page = by_tag.data.decode()
    assert 'data-value="receipt"' in page
    assert "Median wait" in page


def test_campaign_deliveries_tab_lists_the_projects_deliveries(app, as_user):
    from tests.factories import make_contact, make_delivery, make_sent_campaign

    project = make_project("shop")
    make_delivery(
        make_sent_campaign(project, name="Spring news"), make_contact(project, "pat@example.org")
    )
    client = as_user(make_user(project, "support"))
    page = client.get(
        "/admin/messages/", query_string={"kind": "campaigns", "q": "pat@example.org"}
    )
    assert page.status_code == 200
    text = page.data.decode()
    assert "Spring news" in text
    assert "pat@example.org" in text
    assert 'id="delivery-log"' in text
