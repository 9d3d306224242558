"""Mailgun's legacy (deprecated) webhooks: form fields, signed with a key this test makes.

Field names follow Mailgun's "Webhooks (deprecated)" reference: event, recipient, domain,
message-headers (a JSON list of [name, value]), code/error/notification for bounces,
reason/code/description for drops, url for clicks, Message-Id for deliveries, and the
timestamp/token/signature fields.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import secrets
import time

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.feedback.esp.intake import create_inbound_webhook
from mailapp.models import EspProvider, Event, EventType, ProviderEvent, Suppression
from tests.factories import TEST_ACTOR
from tests.web.test_webhooks import MAILGUN_KEY, NOTHING, counts, setup  # noqa: F401 - fixture

MESSAGE_HEADERS = json.dumps(
    [
        [
            "Received",
            "by luna.mailgun.net with SMTP mgrt 8734663311733; Fri, 03 May 2013 18:26:27 +0000",
        ],
        ["Mime-Version", "1.0"],
        ["Subject", "Spring news"],
        ["From", "News <news@mail.example.com>"],
        ["To", "recipient@example.org"],
        ["Message-Id", "<m1@mail.example.com>"],
        ["X-Mailgun-Sid", "WyIwNzI5MCIsICJhbGljZUBleGFtcGxlLmNvbSIsICI2Il0="],
    ]
)


def signed(fields: dict, *, timestamp=None, token=None, key=MAILGUN_KEY) -> dict:
    timestamp = str(timestamp or int(time.time()))
    token = token or secrets.token_hex(25)  # 50 characters, as Mailgun's
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {
        "domain": "mail.example.com",
        "recipient": "recipient@example.org",
        **fields,
        "timestamp": timestamp,
        "token": token,
        "signature": signature,
    }


def bounced(**overrides) -> dict:
    return {
        "event": "bounced",
        "message-headers": MESSAGE_HEADERS,
        "code": "550",
        "error": "5.1.1 The email account that you tried to reach does not exist.",
        "notification": "",
        **overrides,
    }


def hook(project_id):
    webhook = create_inbound_webhook(
        project_id, EspProvider.MAILGUN, secret=MAILGUN_KEY, actor=TEST_ACTOR
    )
    return f"/webhooks/mailgun/{webhook.token}"


def test_urlencoded_bounce_is_verified_kept_and_suppresses(app, client, setup):  # noqa: F811
    project, _contact, delivery = setup
    with app.app_context():
        url = hook(project.id)
        form = signed(bounced())
        response = client.post(url, data=form)  # application/x-www-form-urlencoded
        assert response.status_code == 200, response.json
        assert response.json == {"received": 1, "new": 1, "applied": 1}
        event = db.session.scalar(sa.select(Event))
        assert (event.type, event.delivery_id) == (EventType.BOUNCE_HARD, delivery.id)
        assert event.payload["status"] == "550"
        assert "does not exist" in event.payload["diagnostic"]
        assert event.payload["format"] == "legacy"
        stored = db.session.scalar(sa.select(ProviderEvent))
        assert stored.provider_event_id == f"legacy:{form['token']}"
        assert stored.raw["message-headers"] == MESSAGE_HEADERS  # kept as received
        assert stored.normalized_type == "bounce_hard"
        suppression = db.session.scalar(sa.select(Suppression))
        assert suppression.email == "recipient@example.org"


def test_multipart_complaint_with_attachment(app, client, setup):  # noqa: F811
    project, _contact, delivery = setup
    with app.app_context():
        url = hook(project.id)
        form = signed({"event": "complained", "message-headers": MESSAGE_HEADERS})
        form["attachment-1"] = (
            io.BytesIO(b"Feedback-Type: abuse\r\n"),
            "report.eml",
            "message/rfc822",
        )
        response = client.post(url, data=form, content_type="multipart/form-data")
        assert response.status_code == 200, response.json
        event = db.session.scalar(sa.select(Event))
        assert (event.type, event.delivery_id) == (EventType.COMPLAINT, delivery.id)
        raw = db.session.scalar(sa.select(ProviderEvent.raw))
        assert raw["attachments"] == [
            {"field": "attachment-1", "filename": "report.eml", "content_type": "message/rfc822"}
        ]


def test_delivered_opened_clicked_and_dropped_are_normalized(app, client, setup):  # noqa: F811
    project, _contact, delivery = setup
    with app.app_context():
        url = hook(project.id)
        posts = [
            {"event": "delivered", "Message-Id": "<m1@mail.example.com>", "message-headers": "[]"},
            {"event": "opened", "user-agent": "Mozilla/5.0", "message-headers": MESSAGE_HEADERS},
            {
                "event": "clicked",
                "url": "https://shop.example.com/a",
                "message-headers": MESSAGE_HEADERS,
            },
            {
                "event": "dropped",
                "reason": "old",
                "code": "",
                "description": "Too old",
                "message-headers": MESSAGE_HEADERS,
            },
        ]
        for fields in posts:
            assert client.post(url, data=signed(fields)).status_code == 200
        events = db.session.execute(
            sa.select(Event.type, Event.delivery_id, Event.payload).order_by(Event.id)
        ).all()
        assert [(e.type, e.delivery_id) for e in events] == [
            (EventType.DELIVERED, delivery.id),
            (EventType.OPEN, delivery.id),
            (EventType.CLICK, delivery.id),
            (EventType.BOUNCE_SOFT, delivery.id),  # retried for hours: soft, not hard
        ]
        assert events[2].payload["url"] == "https://shop.example.com/a"
        assert events[3].payload["reason"] == "old"


def test_wrongly_signed_stale_unsigned_and_replayed_change_nothing(app, client, setup):  # noqa: F811
    project, _, _ = setup
    with app.app_context():
        url = hook(project.id)
        forged = signed(bounced(), key="key-made-up-by-an-attacker")
        assert client.post(url, data=forged).status_code == 403
        stale = signed(bounced(), timestamp=int(time.time()) - 3600)
        assert client.post(url, data=stale).status_code == 400
        unsigned = {k: v for k, v in signed(bounced()).items() if k != "signature"}
        assert client.post(url, data=unsigned).status_code == 401
        tampered = signed(bounced())
        tampered["recipient"] = "someone-else@example.org"  # not covered by the HMAC, but
        tampered["token"] = tampered["token"][:-1] + "x"  # the token is: this breaks it
        assert client.post(url, data=tampered).status_code == 403
        assert counts() == NOTHING
        first = signed(bounced())
        assert client.post(url, data=first).status_code == 200
        after = counts()
        assert client.post(url, data=first).status_code == 409  # the same token again
        again = signed(bounced(), token=first["token"], timestamp=first["timestamp"])
        assert client.post(url, data=again).status_code == 409
        assert counts() == after


def test_forms_are_refused_for_providers_that_post_json(app, client, setup):  # noqa: F811
    project, _, _ = setup
    with app.app_context():
        webhook = create_inbound_webhook(
            project.id, EspProvider.POSTMARK, secret="pm-" + "s" * 20, actor=TEST_ACTOR
        )
        response = client.post(
            f"/webhooks/postmark/{webhook.token}",
            data={"RecordType": "Bounce"},
            headers={"X-Webhook-Secret": "pm-" + "s" * 20},
        )
        assert response.status_code == 415
        assert counts() == NOTHING
