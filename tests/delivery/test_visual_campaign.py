"""A campaign made with the visual editor, sent for real to an SMTP sink: the message has the
responsive layout (media queries in the head), the contact's name, a working unsubscribe link,
the postal address, and no tag left unrendered."""

from __future__ import annotations

import email

import pytest

from mailapp.access.audit import Actor
from mailapp.content.templates import create_template, publish_version, submit_for_review
from mailapp.extensions import db
from mailapp.models import Contact, Delivery
from mailapp.urls import read_verp
from tests.factories import make_project
from tests.support.pipeline import pipeline_sink, send_campaign


@pytest.fixture
def sink(app):
    with pipeline_sink(app) as sink:
        yield sink


def test_an_editor_made_campaign_is_sent_responsive_and_complete(app, sink):
    project = make_project()
    project.postal_address = "1 Main Street, Springfield"
    project.settings = {**(project.settings or {}), "allow_self_approval": True}
    db.session.commit()
    actor = Actor.system("editor")
    template = create_template(project, "Newsletter", actor=actor, starter="visual_newsletter")
    version = template.versions[0]
    submit_for_review(project, version.id, actor=actor)
    publish_version(project, version.id, actor=actor)
    send_campaign(project, template, 2)
    assert len(sink.messages) == 2
    for message in sink.messages:
        parsed = email.message_from_bytes(message.data)
        parts = {
            p.get_content_type(): p.get_payload(decode=True).decode()
            for p in parsed.walk()
            if p.get_content_maintype() == "text"
        }
        html, text = parts["text/html"], parts["text/plain"]
        head, body = html.split("</head>", 1)
        assert "@media only screen and (min-width:480px)" in head
        assert "{{" not in html + text
        assert "{%" not in html + text
        assert "1 Main Street, Springfield" in body
        unsubscribe_url = parsed["List-Unsubscribe"].split(">")[0].lstrip("<")
        assert f'href="{unsubscribe_url}"' in body
        assert "@media" not in text
        assert "This month at" in parsed["Subject"]
        contact = db.session.get(Contact, _contact_id(app, message))
        assert (contact.first_name or "there") in body


def _contact_id(app, message) -> int:
    _, delivery_id = read_verp(app.config["SECRET_KEY"], message.mail_from)
    return db.session.get(Delivery, delivery_id).contact_id
