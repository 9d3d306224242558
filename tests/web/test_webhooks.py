"""ESP webhooks: each provider's documented payload shapes, signed here with keys made here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from mailapp.extensions import db, get_redis
from mailapp.feedback.esp import signatures
from mailapp.feedback.esp.intake import create_inbound_webhook
from mailapp.feedback.esp.signatures import CERT_CACHE_KEY, sns_string_to_sign
from mailapp.models import (
    Contact,
    ContactStatus,
    EspProvider,
    Event,
    EventType,
    ProviderEvent,
    Suppression,
)
from mailapp.models.base import utcnow
from tests.factories import (
    TEST_ACTOR,
    make_contact,
    make_delivery,
    make_project,
    make_sent_campaign,
)

CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-7506a1e35b36ef5a444dd1a8e7cc3ed8.pem"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-feedback"


@pytest.fixture
def setup(app):
    """A project with one sent delivery; plain ids, so tests open their own app context."""
    with app.app_context():
        project = make_project()
        contact = make_contact(project, "recipient@example.org")
        delivery = make_delivery(
            make_sent_campaign(project),
            contact,
            status="sent",
            sent_at=utcnow(),
            message_id="<m1@mail.example.com>",
            provider_message_id="0000014a-f4d4-4f89-93bd-a4ab2c1ca7f1-000000",
        )
        ids = (project.id, contact.id, delivery.id)
    return tuple(SimpleNamespace(id=i) for i in ids)


def counts():
    return {
        "provider_events": db.session.scalar(sa.select(sa.func.count()).select_from(ProviderEvent)),
        "events": db.session.scalar(sa.select(sa.func.count()).select_from(Event)),
        "suppressions": db.session.scalar(sa.select(sa.func.count()).select_from(Suppression)),
    }


NOTHING = {"provider_events": 0, "events": 0, "suppressions": 0}


# --- Amazon SES via SNS -------------------------------------------------------------------


@pytest.fixture(scope="module")
def sns_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.now(UTC) - timedelta(days=1))
        .not_valid_after(datetime.now(UTC) + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


def seed_cert(pem: bytes, url: str = CERT_URL) -> None:
    # No internet here: the cache holds the certificate the SNS host would have served.
    get_redis().set(CERT_CACHE_KEY + hashlib.sha256(url.encode()).hexdigest(), pem)


def sns_message(key, ses_event: dict, *, version: str = "1", **overrides) -> dict:
    """An SNS Notification carrying an SES event, as in the SES developer guide."""
    message = {
        "Type": "Notification",
        "MessageId": secrets.token_hex(16),
        "TopicArn": TOPIC,
        "Message": json.dumps(ses_event),
        "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "SignatureVersion": version,
        "SigningCertURL": CERT_URL,
        "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
        **overrides,
    }
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303 - SNS v1
    signature = key.sign(sns_string_to_sign(message), padding.PKCS1v15(), algorithm)
    message["Signature"] = base64.b64encode(signature).decode()
    return message


def ses_bounce(status="5.1.1", bounce_type="Permanent", address="recipient@example.org"):
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": address,
                    "action": "failed",
                    "status": status,
                    "diagnosticCode": f"smtp; 550 {status} user unknown",
                }
            ],
            "timestamp": "2026-11-22T12:00:00.000Z",
            "feedbackId": "0000013786031775-fea503bc-7497-49e1-881b-a0379bb037d3-000000",
            "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
        },
        "mail": {
            "timestamp": "2026-11-22T11:59:58.000Z",
            "source": "news@example.com",
            "messageId": "0000014a-f4d4-4f89-93bd-a4ab2c1ca7f1-000000",
            "destination": [address],
            "commonHeaders": {"messageId": "<m1@mail.example.com>"},
        },
    }


def ses_hook(project, topic=None):
    return create_inbound_webhook(project.id, EspProvider.SES, secret=topic, actor=TEST_ACTOR)


@pytest.mark.parametrize("version", ["1", "2"])
def test_ses_signed_bounce_suppresses(app, client, setup, sns_key, version):
    project, contact, delivery = setup
    key, pem = sns_key
    with app.app_context():
        hook = ses_hook(project, TOPIC)
        seed_cert(pem)
        body = sns_message(key, ses_bounce(), version=version)
        response = client.post(f"/webhooks/ses/{hook.token}", json=body)
        assert response.status_code == 200, response.json
        assert response.json == {"received": 1, "new": 1, "applied": 1}
        [event] = db.session.scalars(sa.select(Event)).all()
        assert (event.type, event.delivery_id) == (EventType.BOUNCE_HARD, delivery.id)
        assert event.payload["status"] == "5.1.1"
        assert event.payload["diagnostic"] == "smtp; 550 5.1.1 user unknown"
        assert db.session.get(Contact, contact.id).status == ContactStatus.BOUNCED
        stored = db.session.scalar(sa.select(ProviderEvent))
        assert stored.raw["Message"] == body["Message"]
        assert stored.normalized_type == "bounce_hard"
        # The same notification again is a replay: refused, nothing more recorded.
        again = client.post(f"/webhooks/ses/{hook.token}", json=body)
        assert again.status_code == 409
        assert counts() == {"provider_events": 1, "events": 1, "suppressions": 1}


def test_ses_transient_bounce_and_complaint(app, client, setup, sns_key):
    project, contact, _ = setup
    key, pem = sns_key
    with app.app_context():
        hook = ses_hook(project)
        seed_cert(pem)
        soft = sns_message(key, ses_bounce("4.2.2", "Transient"))
        assert client.post(f"/webhooks/ses/{hook.token}", json=soft).status_code == 200
        assert db.session.scalar(sa.select(Event.type)) == EventType.BOUNCE_SOFT
        assert db.session.get(Contact, contact.id).soft_bounces == 1
        complaint = {
            "notificationType": "Complaint",
            "complaint": {
                "complainedRecipients": [{"emailAddress": "recipient@example.org"}],
                "timestamp": "2026-11-22T12:05:00.000Z",
                "feedbackId": "0000013786031775-163e3910-53eb-4c8e-a04a-f29debf88a84-000000",
                "complaintFeedbackType": "abuse",
            },
            "mail": ses_bounce()["mail"],
        }
        response = client.post(f"/webhooks/ses/{hook.token}", json=sns_message(key, complaint))
        assert response.status_code == 200
        db.session.expire_all()
        assert db.session.get(Contact, contact.id).status == ContactStatus.COMPLAINED


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"Signature": None}, 401),
        ({"tamper": "Message"}, 403),
        ({"SigningCertURL": "https://evil.example.com/cert.pem"}, 403),
        ({"SigningCertURL": "http://sns.eu-west-1.amazonaws.com/cert.pem"}, 403),
        ({"TopicArn": "arn:aws:sns:eu-west-1:999999999999:other"}, 403),
        ({"Timestamp": "2026-01-01T00:00:00.000Z"}, 400),
    ],
)
def test_ses_refuses_unsigned_forged_foreign_or_stale(app, client, setup, sns_key, change, status):
    project, _, _ = setup
    key, pem = sns_key
    with app.app_context():
        hook = ses_hook(project, TOPIC)
        seed_cert(pem)
        overrides = {k: v for k, v in change.items() if k not in ("Signature", "tamper")}
        body = sns_message(key, ses_bounce(), **overrides)
        if "Signature" in change:
            del body["Signature"]
        if "tamper" in change:
            body["Message"] = json.dumps(ses_bounce(address="someone-else@example.org"))
        response = client.post(f"/webhooks/ses/{hook.token}", json=body)
        assert response.status_code == status
        assert counts() == NOTHING


def test_sns_certificate_is_fetched_only_from_sns_hosts_and_cached(app, sns_key, monkeypatch):
    _key, pem = sns_key
    fetched = []

    def fake_get(url, timeout=10.0):
        fetched.append(url)
        return pem

    monkeypatch.setattr(signatures, "http_get", fake_get)
    with app.app_context():
        redis = get_redis()
        assert (
            signatures.sns_certificate(CERT_URL, redis).public_bytes(serialization.Encoding.PEM)
            == pem
        )
        signatures.sns_certificate(CERT_URL, redis)
        assert fetched == [CERT_URL]  # the second time from the cache
        for url in (
            "https://sns.eu-west-1.amazonaws.com.evil.com/x.pem",
            "https://evil.com/sns.eu-west-1.amazonaws.com/x.pem",
            "https://sns.eu-west-1.amazonaws.com@evil.com/x.pem",
        ):
            with pytest.raises(signatures.Rejected):
                signatures.sns_certificate(url, redis)
        assert fetched == [CERT_URL]


def test_sns_subscription_confirmed_only_to_sns_hosts(app, client, setup, sns_key, monkeypatch):
    project, _, _ = setup
    key, pem = sns_key
    visited = []
    monkeypatch.setattr(signatures, "http_get", lambda url, **_: visited.append(url))
    from mailapp.feedback.esp import intake

    monkeypatch.setattr(intake, "http_get", lambda url, **_: visited.append(url))
    with app.app_context():
        hook = ses_hook(project)
        seed_cert(pem)
        good = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=abc"
        body = sns_message(
            key,
            {},
            Type="SubscriptionConfirmation",
            Token="abc",
            SubscribeURL=good,
            Message="You have chosen to subscribe to the topic.",
        )
        assert client.post(f"/webhooks/ses/{hook.token}", json=body).status_code == 200
        assert visited == [good]
        evil = sns_message(
            key,
            {},
            Type="SubscriptionConfirmation",
            Token="abc",
            SubscribeURL="https://evil.example.com/?Action=ConfirmSubscription",
            Message="You have chosen to subscribe to the topic.",
        )
        assert client.post(f"/webhooks/ses/{hook.token}", json=evil).status_code == 403
        assert visited == [good]


def test_unknown_endpoint_or_wrong_provider_is_404(app, client, setup):
    project, _, _ = setup
    with app.app_context():
        hook = ses_hook(project)
        assert client.post("/webhooks/ses/nope", json={}).status_code == 404
        assert client.post(f"/webhooks/mailgun/{hook.token}", json={}).status_code == 404


# --- SendGrid ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sendgrid_key():
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, base64.b64encode(public).decode()


SENDGRID_EVENTS = [
    {
        "email": "recipient@example.org",
        "timestamp": 1763812800,
        "smtp-id": "<m1@mail.example.com>",
        "event": "delivered",
        "response": "250 OK",
        "sg_event_id": "sg_event_id_delivered_1",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
    },
    {
        "email": "recipient@example.org",
        "timestamp": 1763812860,
        "smtp-id": "<m1@mail.example.com>",
        "event": "open",
        "useragent": "Mozilla/4.0 (compatible; MSIE 6.1; Windows XP)",
        "ip": "255.255.255.255",
        "sg_event_id": "sg_event_id_open_1",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
    },
    {
        "email": "recipient@example.org",
        "timestamp": 1763812920,
        "smtp-id": "<m1@mail.example.com>",
        "event": "bounce",
        "type": "bounce",
        "status": "5.1.1",
        "reason": "550 5.1.1 The email account that you tried to reach does not exist.",
        "sg_event_id": "sg_event_id_bounce_1",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
    },
]


def sendgrid_post(client, hook, key, body: bytes, *, timestamp=None, signature=None):
    timestamp = str(timestamp or int(time.time()))
    if signature is None:
        der = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        signature = base64.b64encode(der).decode()
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": signature,
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }
    return client.post(
        f"/webhooks/sendgrid/{hook.token}",
        data=body,
        headers=headers,
        content_type="application/json",
    )


def test_sendgrid_signed_events(app, client, setup, sendgrid_key):
    project, contact, _delivery = setup
    key, public = sendgrid_key
    with app.app_context():
        hook = create_inbound_webhook(
            project.id, EspProvider.SENDGRID, secret=public, actor=TEST_ACTOR
        )
        body = json.dumps(SENDGRID_EVENTS).encode()
        response = sendgrid_post(client, hook, key, body)
        assert response.status_code == 200, response.json
        assert response.json == {"received": 3, "new": 3, "applied": 3}
        types = sorted(e.value for e in db.session.scalars(sa.select(Event.type)))
        assert types == ["bounce_hard", "delivered", "open"]
        assert db.session.get(Contact, contact.id).status == ContactStatus.BOUNCED
        # Replaying the captured request (same signature and timestamp) is refused.
        sent = response.request.headers
        replay = sendgrid_post(
            client,
            hook,
            key,
            body,
            timestamp=sent["X-Twilio-Email-Event-Webhook-Timestamp"],
            signature=sent["X-Twilio-Email-Event-Webhook-Signature"],
        )
        assert replay.status_code == 409
        assert replay.json == {"error": "replayed request"}
        assert counts()["events"] == 3


def test_sendgrid_refuses_unsigned_forged_and_stale(app, client, setup, sendgrid_key):
    project, _, _ = setup
    key, public = sendgrid_key
    other = ec.generate_private_key(ec.SECP256R1())
    with app.app_context():
        hook = create_inbound_webhook(
            project.id, EspProvider.SENDGRID, secret=public, actor=TEST_ACTOR
        )
        body = json.dumps(SENDGRID_EVENTS).encode()
        unsigned = client.post(
            f"/webhooks/sendgrid/{hook.token}", data=body, content_type="application/json"
        )
        assert unsigned.status_code == 401
        assert sendgrid_post(client, hook, other, body).status_code == 403
        stale = int(time.time()) - 3600
        assert sendgrid_post(client, hook, key, body, timestamp=stale).status_code == 400
        tampered_sig = key.sign(str(int(time.time())).encode() + body, ec.ECDSA(hashes.SHA256()))
        tampered = body.replace(b"5.1.1", b"2.0.0")
        assert (
            sendgrid_post(
                client, hook, key, tampered, signature=base64.b64encode(tampered_sig).decode()
            ).status_code
            == 403
        )
        assert counts() == NOTHING


# --- Mailgun -------------------------------------------------------------------------------

MAILGUN_KEY = "key-" + "3ax6xnjp29jd6fds4gc373sgvjxteol0"


def mailgun_body(event_data: dict, *, timestamp=None, token=None, key=MAILGUN_KEY) -> dict:
    timestamp = str(timestamp or int(time.time()))
    token = token or secrets.token_hex(25)
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": event_data,
    }


def mailgun_failed(severity="permanent", code=550, enhanced="5.1.1"):
    return {
        "id": secrets.token_urlsafe(16),
        "event": "failed",
        "severity": severity,
        "reason": "bounce",
        "timestamp": time.time(),
        "recipient": "recipient@example.org",
        "delivery-status": {
            "code": code,
            "enhanced-code": enhanced,
            "message": f"{code} {enhanced} No such user here",
            "description": "",
        },
        "message": {
            "headers": {"message-id": "m1@mail.example.com", "to": "recipient@example.org"}
        },
    }


def test_mailgun_signed_failure_and_token_replay(app, client, setup):
    project, _contact, delivery = setup
    with app.app_context():
        hook = create_inbound_webhook(
            project.id, EspProvider.MAILGUN, secret=MAILGUN_KEY, actor=TEST_ACTOR
        )
        url = f"/webhooks/mailgun/{hook.token}"
        temporary = mailgun_body(mailgun_failed("temporary", 452, "4.2.2"))
        assert client.post(url, json=temporary).status_code == 200
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == 0  # a retry
        body = mailgun_body(mailgun_failed())
        response = client.post(url, json=body)
        assert response.status_code == 200, response.json
        event = db.session.scalar(sa.select(Event))
        assert (event.type, event.delivery_id) == (EventType.BOUNCE_HARD, delivery.id)
        assert event.payload["status"] == "5.1.1"
        # The same token again, even with a new event, is a replay.
        reused = mailgun_body(
            mailgun_failed(),
            token=body["signature"]["token"],
            timestamp=body["signature"]["timestamp"],
        )
        assert client.post(url, json=reused).status_code == 409
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Event)) == 1


def test_mailgun_refuses_unsigned_forged_and_stale(app, client, setup):
    project, _, _ = setup
    with app.app_context():
        hook = create_inbound_webhook(
            project.id, EspProvider.MAILGUN, secret=MAILGUN_KEY, actor=TEST_ACTOR
        )
        url = f"/webhooks/mailgun/{hook.token}"
        assert client.post(url, json={"event-data": mailgun_failed()}).status_code == 401
        forged = mailgun_body(mailgun_failed(), key="key-wrong")
        assert client.post(url, json=forged).status_code == 403
        stale = mailgun_body(mailgun_failed(), timestamp=int(time.time()) - 3600)
        assert client.post(url, json=stale).status_code == 400
        assert counts() == NOTHING


# --- Postmark ------------------------------------------------------------------------------

POSTMARK_SECRET = "s3cret-" + "p" * 20
POSTMARK_BOUNCE = {
    "RecordType": "Bounce",
    "MessageStream": "outbound",
    "ID": 4323372036854775807,
    "Type": "HardBounce",
    "TypeCode": 1,
    "Name": "Hard bounce",
    "Tag": "Test",
    "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
    "Description": "The server was unable to deliver your message (ex: unknown user).",
    "Details": "Test bounce details",
    "Email": "recipient@example.org",
    "From": "news@example.com",
    "BouncedAt": "2026-11-22T12:00:00Z",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": True,
    "Subject": "Test subject",
}


def basic(password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"postmark:{password}".encode()).decode()}


def test_postmark_secret_in_basic_auth_or_header(app, client, setup):
    project, contact, _ = setup
    with app.app_context():
        hook = create_inbound_webhook(
            project.id, EspProvider.POSTMARK, secret=POSTMARK_SECRET, actor=TEST_ACTOR
        )
        url = f"/webhooks/postmark/{hook.token}"
        assert client.post(url, json=POSTMARK_BOUNCE).status_code == 401
        assert client.post(url, json=POSTMARK_BOUNCE, headers=basic("wrong")).status_code == 403
        assert (
            client.post(
                url, json=POSTMARK_BOUNCE, headers={"X-Webhook-Secret": "wrong"}
            ).status_code
            == 403
        )
        assert counts() == NOTHING
        assert (
            client.post(url, json=POSTMARK_BOUNCE, headers=basic(POSTMARK_SECRET)).status_code
            == 200
        )
        assert db.session.get(Contact, contact.id).status == ContactStatus.BOUNCED
        # Replayed: the same bounce id again changes nothing.
        replay = client.post(
            url, json=POSTMARK_BOUNCE, headers={"X-Webhook-Secret": POSTMARK_SECRET}
        )
        assert replay.status_code == 409
        assert counts() == {"provider_events": 1, "events": 1, "suppressions": 1}
        click = {
            "RecordType": "Click",
            "MessageStream": "outbound",
            "ClickLocation": "HTML",
            "Platform": "Desktop",
            "OriginalLink": "https://example.com/offer",
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
            "ReceivedAt": "2026-11-22T12:10:00Z",
            "Recipient": "recipient@example.org",
        }
        assert (
            client.post(url, json=click, headers={"X-Webhook-Secret": POSTMARK_SECRET}).status_code
            == 200
        )
        event = db.session.scalar(sa.select(Event).where(Event.type == EventType.CLICK))
        assert event.payload["url"] == "https://example.com/offer"
