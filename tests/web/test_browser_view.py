"""/v/<token>: the message as sent (without the open pixel) under a strict CSP; forged
tokens get a 404 that says nothing; erased or purged messages a generic 410."""

import email
import re

import pytest
import sqlalchemy as sa

from mailapp.access.audit import Actor
from mailapp.audience.gdpr import erase_contact
from mailapp.delivery.transactional import submit_message
from mailapp.delivery.transactional_send import send_message
from mailapp.extensions import db, get_redis
from mailapp.feedback.tracking import event_buffer
from mailapp.feedback.tracking.hits import drain_hits
from mailapp.models import Delivery, Event, EventType, Message
from mailapp.tokens import make_token
from mailapp.urls import LinkSigner, read_verp
from tests.factories import HTML, make_contact, make_project, make_sender, make_template
from tests.support.pipeline import pipeline_sink, send_campaign

VIEW = '\n<p><a href="{{ view_in_browser_url }}">View in your browser</a></p>'
PIXEL_RE = re.compile(r'<img src="http://mail\.test/t/o/[^"]+"[^>]*>')
ERASER = Actor.system("test")


@pytest.fixture
def sink(app):
    with pipeline_sink(app) as sink:
        yield sink


@pytest.fixture
def sent(app, sink):
    """An A/B campaign (different content per variant) sent to 12 contacts."""
    project = make_project()
    project.name = "Secret Shop"
    template = make_template(project, HTML + VIEW, subject="News for {{ contact.first_name }}")
    other = make_template(
        project,
        HTML.replace("the news", "the <b>other</b> news") + VIEW,
        subject="Other for {{ contact.first_name }}",
    )
    campaign = send_campaign(
        project,
        template,
        12,
        ab_test={"test_share": 0.99, "metric": "clicks", "decide_after_minutes": 60},
        variants=[
            {"key": "A"},
            {"key": "B", "template_version_id": other.published_version_id},
        ],
    )
    assert len(sink.messages) == 12
    return project, campaign, [_sent(app, m) for m in sink.messages]


def _sent(app, message):
    parsed = email.message_from_bytes(message.data)
    html = next(p for p in parsed.walk() if p.get_content_type() == "text/html")
    body = html.get_payload(decode=True).decode().replace("\r\n", "\n")
    _, delivery_id = read_verp(app.config["SECRET_KEY"], message.mail_from)
    view_url = re.search(r'href="(http://mail\.test/v/[^"]+)"', body)[1]
    return delivery_id, parsed["Subject"], body, view_url.removeprefix("http://mail.test")


def test_the_copy_is_the_sent_html_without_the_open_pixel(client, sent):
    _, _, messages = sent
    variants = set()
    for delivery_id, subject, body, path in messages:
        response = client.get(path)
        assert response.status_code == 200
        assert response.mimetype == "text/html"
        page = response.get_data(as_text=True)
        assert len(PIXEL_RE.findall(body)) == 1
        assert page == PIXEL_RE.sub("", body)  # same variant, personalization, click URLs
        assert "/t/o/" not in page
        assert f"<title>{subject}</title>" in page
        variants.add(db.session.get(Delivery, delivery_id).variant)
    assert variants == {"A", "B"}
    assert any("the <b>other</b> news" in client.get(m[3]).get_data(as_text=True) for m in messages)


def test_reading_the_copy_is_not_an_open(client, sent):
    _, _, messages = sent
    client.get(messages[0][3])
    assert event_buffer.pending(get_redis()) == 0
    assert drain_hits() == 0
    opens = sa.select(sa.func.count()).select_from(Event).where(Event.type == EventType.OPEN)
    assert db.session.scalar(opens) == 0


def test_the_copy_is_served_under_a_strict_policy(client, sent):
    response = client.get(sent[2][0][3])
    policy = dict(
        part.strip().split(" ", 1)
        for part in response.headers["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'none'"  # hence no script, object, frame, connect
    assert "script-src" not in policy
    assert policy["img-src"] == "https: http: data:"
    assert policy["style-src"] == "'unsafe-inline'"
    assert policy["form-action"] == policy["base-uri"] == policy["frame-ancestors"] == "'none'"
    assert "allow-scripts" not in policy["sandbox"]
    assert "allow-same-origin" not in policy["sandbox"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response.headers["Cache-Control"]
    assert "private" in response.headers["Cache-Control"]
    assert "noindex" in response.headers["X-Robots-Tag"]
    assert "Set-Cookie" not in response.headers


def _forged(app, delivery_id, path):
    token = path.rsplit("/", 1)[1]
    signer = LinkSigner.from_app()
    secret = app.config["SECRET_KEY"]
    return {
        "garbage": "nonsense",
        "tampered signature": token[:-1] + ("a" if token[-1] != "a" else "b"),
        "another id, same signature": f"{_b36(delivery_id + 1)}-{token.rsplit('-', 1)[1]}",
        "click token": signer.click_url(delivery_id, 1).rsplit("/", 1)[1],
        "unsubscribe token": signer.unsubscribe_url(delivery_id).rsplit("/", 1)[1],
        "open token": signer.open_url(delivery_id).rsplit("/", 1)[1],
        "another installation's token": make_token("other-secret", "view", delivery_id),
        "view token with an extra id": make_token(secret, "view", delivery_id, 1),
        "very long": "1-" + "a" * 500,
    }


def _b36(number):
    digits = ""
    while True:
        number, digit = divmod(number, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[digit] + digits
        if not number:
            return digits


FORGERIES = [
    "garbage",
    "tampered signature",
    "another id, same signature",
    "click token",
    "unsubscribe token",
    "open token",
    "another installation's token",
    "view token with an extra id",
    "very long",
]


@pytest.mark.parametrize("forgery", FORGERIES)
def test_forged_tokens_get_a_404_that_reveals_nothing(app, client, sent, forgery):
    project, _, messages = sent
    delivery_id, subject, _, path = messages[0]
    token = _forged(app, delivery_id, path)[forgery]
    response = client.get(f"/v/{token}")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "not valid" in page
    for secret in (project.name, subject, subject.split()[-1], "no longer available"):
        assert secret not in page
    assert "Location" not in response.headers
    assert "no-store" in response.headers["Cache-Control"]


def test_an_erased_contact_gets_the_generic_unavailable_page(client, sent):
    project, _, messages = sent
    delivery_id, subject, _, path = messages[0]
    contact_id = db.session.get(Delivery, delivery_id).contact_id
    erase_contact(project.id, contact_id, actor=ERASER)
    response = client.get(path)
    assert response.status_code == 410
    page = response.get_data(as_text=True)
    assert "no longer available" in page
    assert subject.split()[-1] not in page
    assert project.name not in page
    assert client.get(messages[1][3]).status_code == 200  # the others are still there


def test_a_purged_delivery_gets_the_generic_unavailable_page(client, sent):
    _, _, messages = sent
    delivery_id, _, _, path = messages[0]
    db.session.execute(sa.delete(Delivery).where(Delivery.id == delivery_id))
    db.session.commit()
    response = client.get(path)
    assert response.status_code == 410
    assert "no longer available" in response.get_data(as_text=True)


def test_a_transactional_message_has_its_own_copy(app, client, sink):
    project = make_project()
    make_sender(project)
    contact = make_contact(project, "ada@example.org")
    message, _ = submit_message(
        project,
        actor=ERASER,
        to="ada@example.org",
        content={
            "subject": "Order {{ data.order }}",
            "html": '<p>Order {{ data.order }} shipped.</p><a href="{{ view_in_browser_url }}">'
            "View</a>",
        },
        data={"order": "A-42"},
    )
    send_message(message.id)
    (received,) = sink.messages
    _, _, body, path = _sent(app, received)
    page = client.get(path)
    assert page.status_code == 200
    assert page.get_data(as_text=True) == body
    assert "Order A-42 shipped." in body
    assert "Content-Security-Policy" in page.headers
    # The message's view token is not a campaign delivery's, and vice versa.
    delivery_token = LinkSigner.from_app().view_url(message.id).rsplit("/", 1)[1]
    assert client.get(f"/v/{delivery_token}").status_code == 410  # no such delivery
    erase_contact(project.id, contact.id, actor=ERASER)
    assert db.session.get(Message, message.id).content is None
    gone = client.get(path)
    assert gone.status_code == 410
    assert "A-42" not in gone.get_data(as_text=True)


def test_a_test_send_links_to_its_copy_and_to_a_harmless_unsubscribe_page(app, client, sink):
    from mailapp.content.preview import send_test
    from mailapp.content.templates import Content, create_template
    from mailapp.models import Contact, Sender, Suppression

    project = make_project()
    contact = make_contact(project, first_name="Zoë")
    contact.locale = "de"
    sender = db.session.scalar(sa.select(Sender).where(Sender.id == make_sender(project).id))
    html = (
        '<p>Hello {{ contact.first_name }}</p><p><a href="{{ unsubscribe_url }}">Leave</a></p>'
        '<p><a href="{{ view_in_browser_url }}">View in your browser</a></p>'
    )
    template = create_template(
        project,
        "T",
        Content(
            subject="Hi",
            html=html,
            locale_variants={"de": {"html": html.replace("Hello", "Hallo")}},
        ),
        actor=ERASER,
    )
    version = template.versions[0]
    send_test(project, version.id, "qa@example.org", sender_id=sender.id, actor=ERASER,
              contact_id=contact.id, locale="de")  # fmt: skip
    (message,) = sink.messages
    parsed = email.message_from_bytes(message.data)
    part = next(p for p in parsed.walk() if p.get_content_type() == "text/html")
    body = part.get_payload(decode=True).decode()
    view = re.search(r'href="http://mail\.test(/v/[^"]+)"', body)[1]
    leave = re.search(r'href="http://mail\.test(/u/[^"]+)"', body)[1]

    copy = client.get(view)
    assert copy.status_code == 200
    assert "Hallo Zoë" in copy.get_data(as_text=True)  # the test's contact and locale
    assert client.get(view[:-2] + "aa").status_code == 404

    assert "test message" in client.get(leave).get_data(as_text=True)
    one_click = client.post(leave, data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    assert "test message" in one_click.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).status == "active"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Suppression)) == 0
    assert client.get(leave[:-2] + "aa").status_code == 404

    # A test link is good for TEST_LINK_DAYS: an older one says the copy is gone.
    secret = app.config["SECRET_KEY"]
    old = make_token(secret, "test-view", version.id, contact.id, 1, 1_000_000)
    assert client.get(f"/v/{old}").status_code == 410
