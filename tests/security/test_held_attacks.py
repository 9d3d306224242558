"""Attacks the issue 15 probe tried that held, kept holding: SSTI, stored XSS, forged tokens,
CSRF, SSRF targets. Each runs against the real app (its routes, sandbox and checks).
Forged ESP webhooks: tests/security/test_forged_webhooks.py."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from mailapp.content.rendering import RenderError, compile_content, render_content
from mailapp.delivery import transactional_send
from mailapp.extensions import db
from mailapp.integrations.webhooks import create_endpoint, deliver_attempt, publish_event
from mailapp.models import (
    Contact,
    Event,
    List,
    Message,
    Segment,
    Suppression,
    Template,
    WebhookAttempt,
)
from mailapp.urls import LinkSigner
from tests.admin.conftest import csrf_token, login
from tests.factories import (
    TEST_ACTOR,
    make_contact,
    make_delivery,
    make_project,
    make_sender,
    make_sent_campaign,
    make_template,
    make_user,
)
from tests.security.payloads import context, inline_message

SSTI = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{{ '{0.__class__.__mro__}'.format(contact) }}",
    "{{ contact.attributes.__class__.__base__.__subclasses__() }}",
    "{{ contact|attr('__class__') }}",
    "{{ data.items.__self__ }}",
    "{{ ''.translate.__self__ }}",
    "{{ contact.attributes.update({'x': 1}) }}",
]
XSS = '<script>alert("xss")</script><img src=x onerror=alert(1)>'


def version(html):
    from mailapp.models import TemplateVersion

    return TemplateVersion(
        id=None, subject="s", preheader=None, html=html, text="t", locale="en", locale_variants={}
    )


@pytest.mark.parametrize("source", SSTI)
def test_ssti_escapes_are_refused_by_the_sandbox(source):
    with pytest.raises(RenderError):
        render_content(compile_content(version(source)), context())


def test_ssti_in_inline_api_content_fails_the_message_and_sends_nothing(app, client):
    project = make_project()
    make_sender(project)
    for source in SSTI[:3]:
        message_id = inline_message(client, project, f"<p>{source}</p>")
        assert transactional_send.send_message(message_id) == "failed"
        message = db.session.get(Message, message_id)
        assert message.reason == "not rendered"
        assert "uid=" not in (message.last_reply or "")


def test_ssti_is_refused_when_a_template_draft_is_saved(client):
    project = make_project()
    login(client, make_user(project, "owner"))
    template = make_template(project)
    versions = len(template.versions)
    response = client.post(
        f"/admin/template/{template.id}/draft/",
        data={
            "csrf_token": csrf_token(client),
            "subject": "Hi",
            "html": "<p>{{ ''.__class__.__mro__ }}</p>",
            "locale": "en",
        },
        follow_redirects=True,
    )
    assert "attribute &#39;__class__&#39; is not allowed" in response.get_data(as_text=True)
    db.session.expire_all()
    assert len(db.session.get(Template, template.id).versions) == versions


@pytest.fixture
def stored_xss(app):
    """Every name a marketer or an import can set, holding markup."""
    project = make_project()
    project.name = f"Shop {XSS}"
    contact = make_contact(project, "xss@example.org", first_name=XSS, last_name=XSS,
                           attributes={"city": XSS})  # fmt: skip
    db.session.add_all(
        [
            List(project_id=project.id, name=f"List {XSS}", token="xss-list"),
            Segment(project_id=project.id, name=f"Segment {XSS}", rule={"all": []}),
        ]
    )
    db.session.commit()
    template = make_template(
        project, html="<p>Hi {{ contact.first_name }} {{ contact.attributes.city }}</p>"
    )
    template.name = f"Template {XSS}"
    make_sent_campaign(project).name = f"Campaign {XSS}"
    make_sender(project, name=f"Sender {XSS}", from_name=f"From {XSS}")
    db.session.commit()
    return project, contact, template


def test_stored_markup_is_escaped_on_every_back_office_page(app, client, stored_xss):
    project, contact, template = stored_xss
    login(client, make_user(project, "owner"))
    pages = [r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/admin")
             and not r.arguments and "GET" in r.methods
             and not any(w in r.rule for w in ("ajax", "export", "switch", "outbox"))]  # fmt: skip
    pages += [f"/admin/contact/details/?id={contact.id}", f"/admin/contact/edit/?id={contact.id}",
              f"/admin/template/edit/?id={template.id}"]  # fmt: skip
    escaped = 0
    for page in pages:
        response = client.get(page)
        body = response.get_data(as_text=True)
        assert response.status_code in (200, 302, 403, 404), (page, response.status_code)
        assert "<script>alert(" not in body, page
        assert "<img src=x onerror" not in body, page
        escaped += "&lt;script&gt;alert(" in body
    assert escaped >= 5  # the names were shown, escaped, on the pages listing them


def test_stored_markup_is_escaped_in_the_rendered_message(app, client, stored_xss):
    project, contact, template = stored_xss
    login(client, make_user(project, "owner"))
    body = client.get(
        f"/admin/template/version/{template.published_version_id}/preview/body?contact_id={contact.id}"
    )
    html = body.get_data(as_text=True)
    assert body.status_code == 200
    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;" in html
    assert "sandbox" in body.headers["Content-Security-Policy"]


def _state() -> tuple:
    db.session.expire_all()
    return tuple(
        db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (Event, Suppression, Contact)
    )


def test_forged_tracking_unsubscribe_and_view_tokens_change_nothing(app):
    project = make_project()
    campaign = make_sent_campaign(project, ["https://shop.example.com/a"])
    delivery = make_delivery(campaign, make_contact(project, "ada@example.org"))
    real, other = LinkSigner.from_app(), LinkSigner("another-secret-" + "y" * 32, "")
    link_id = campaign.links[0].id if getattr(campaign, "links", None) else 1
    forged = [
        other.click_url(delivery.id, link_id),
        other.open_url(delivery.id),
        other.unsubscribe_url(delivery.id),
        other.view_url(delivery.id),
        real.open_url(delivery.id).replace("/t/o/", "/u/"),  # a token for another purpose
        real.unsubscribe_url(delivery.id)[:-2] + "zz",  # tampered
        "/subscribe/confirm/" + real.unsubscribe_url(delivery.id).rsplit("/", 1)[1],
    ]
    client = app.test_client(use_cookies=False)
    before = _state()
    for url in forged:
        path = url.removeprefix("http://mail.test")
        # an open pixel answers its image whatever the token: it records nothing
        assert client.get(path).status_code in ((200,) if "/t/o/" in path else (400, 404, 410)), (
            path
        )
        assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code in (
            400, 404, 405, 410,
        ), path  # fmt: skip
    assert _state() == before


def test_back_office_forms_need_the_csrf_token(app, client):
    project = make_project()
    user = make_user(project, "owner")
    login(client, user)
    before = _state()
    for path, data in [
        ("/admin/contact/new/", {"email": "csrf@example.org"}),
        ("/admin/template/new/", {"name": "T", "subject": "s", "html": "<p>x</p>"}),
        ("/account/password", {"current": "x", "password": "y" * 12, "confirm": "y" * 12}),
    ]:
        response = client.post(path, data=data)
        assert response.status_code in (200, 400), path
        if response.status_code == 200:
            assert "CSRF" in response.get_data(as_text=True), path
    assert _state() == before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Template)) == 0
    # the API is Bearer-only: a browser's session cookie does not authenticate it
    api = client.put("/api/v1/contacts", json={"email": "cookie@example.org"})
    assert api.status_code == 401
    assert _state() == before


@pytest.fixture
def target() -> Iterator[list[str]]:
    """An HTTP server on loopback standing for an internal service; records every request."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        do_POST = do_GET  # noqa: N815

        def log_message(self, *_):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hits.append(f"http://127.0.0.1:{server.server_port}")
    yield hits
    server.shutdown()
    server.server_close()


def test_outbound_webhooks_never_reach_internal_addresses(app, target):
    base = target.pop(0)
    project = make_project()
    urls = [f"{base}/hook", base.replace("127.0.0.1", "localhost") + "/hook",
            "http://169.254.169.254/latest/meta-data/", "http://[::1]:9/", "http://10.0.0.1/",
            "http://0.0.0.0:9/"]  # fmt: skip
    for url in urls:
        create_endpoint(project.id, url, event_types=["delivered"], actor=TEST_ACTOR)
    publish_event(project.id, "delivered", {"id": 1})
    attempts = db.session.scalars(sa.select(WebhookAttempt)).all()
    assert len(attempts) == len(urls)
    for attempt in attempts:
        done = deliver_attempt(attempt.id)
        assert done.status.value == "failed"
        assert "non-public address" in done.error
    assert target == []  # the internal service never saw a request


def test_an_sns_certificate_outside_amazon_is_never_fetched(app, client, target):
    """The certificate URL is checked before anything is fetched (the SubscribeURL of a
    signed confirmation: tests/web/test_webhooks.py, which needs a signing key)."""
    base = target.pop(0)
    from mailapp.feedback.esp.intake import create_inbound_webhook
    from mailapp.models import EspProvider

    project = make_project()
    hook = create_inbound_webhook(project.id, EspProvider.SES, secret=None, actor=TEST_ACTOR)
    body = {"Type": "SubscriptionConfirmation", "MessageId": "m1", "Token": "t",
            "TopicArn": "arn:aws:sns:eu-west-1:1:t", "Message": "m",
            "Timestamp": "2026-12-03T06:00:00.000Z", "SignatureVersion": "1",
            "Signature": "AAAA", "SigningCertURL": f"{base}/cert.pem",
            "SubscribeURL": f"{base}/confirm"}  # fmt: skip
    response = client.post(f"/webhooks/ses/{hook.token}", json=body)
    assert response.status_code == 403
    assert target == []
