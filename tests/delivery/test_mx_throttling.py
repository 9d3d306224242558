"""A campaign and a transactional message to custom domains on Google's MX, against a real
SMTP sink answering 421 4.7.0 for some, with MX answers from the real DNS server."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailapp.delivery import mx_providers, transactional_send
from mailapp.delivery.throttles import current_rate, slowdowns, throttled_groups
from mailapp.delivery.transactional import submit_message
from mailapp.extensions import db, get_redis
from mailapp.models import Delivery, DeliveryStatus, Message
from mailapp.models.base import utcnow
from tests.factories import (
    TEST_ACTOR,
    make_campaign,
    make_list,
    make_project,
    make_sender,
    make_template,
)
from tests.support.pipeline import launch, pipeline_sink, run_pipeline

ZONE = {
    # Two companies on Google Workspace: one provider, one group, one slow-down.
    "shop.test": [("MX", (1, "aspmx.l.google.com.")), ("MX", (5, "alt1.aspmx.l.google.com."))],
    "brand.test": [("MX", (10, "smtp.google.com."))],
    # The API refuses reserved names like .test: a made-up .com, served by the test server.
    "brandtwo-mail.com": [("MX", (10, "smtp.google.com."))],
    "firm.test": [("MX", (0, "firm-test.mail.protection.outlook.com."))],
    "club.test": [("MX", (10, "mx1.hostingco.net."))],
}
THROTTLED = "421 4.7.0 Try again later"


@pytest.fixture
def mx_dns(app, dns_server):
    dns_server.set(ZONE)
    app.config.update(MX_GROUPING=True, DNS_RESOLVER=dns_server.address, DNS_TIMEOUT=1.0)
    mx_providers.forget_local()
    yield dns_server
    mx_providers.forget_local()


def test_a_421_from_google_slows_every_google_hosted_domain_and_nothing_else(app, mx_dns):
    project = make_project()
    sender = make_sender(project)
    emails = [
        "busy@shop.test",
        "ann@shop.test",
        "bob@brand.test",
        "cid@firm.test",
        "dee@club.test",
        "eve@club.test",
    ]
    campaign = make_campaign(
        project, sender, make_template(project), [make_list(project, emails=emails)]
    )
    with pipeline_sink(app) as sink:
        sink.rcpt_rules["busy@shop.test"] = THROTTLED
        launch(project, campaign)
        started = utcnow()
        run_pipeline(campaign.id)
        delivered = {r for m in sink.messages for r in m.rcpt_tos}
    assert delivered == set(emails) - {"busy@shop.test"}
    status = dict(
        db.session.execute(
            sa.select(Delivery.contact_id, Delivery.status).where(
                Delivery.campaign_id == campaign.id
            )
        ).all()
    )
    assert sorted(s.value for s in status.values()).count("deferred") == 1
    client = get_redis()
    # The 421 came for shop.test; brand.test shares its servers, so its group slowed too.
    assert current_rate(client, sender.id, "google", utcnow()) == app.config["THROTTLE_RATE"]
    assert current_rate(client, sender.id, "microsoft", utcnow()) is None
    assert current_rate(client, sender.id, "mx:hostingco.net", utcnow()) is None
    (shown,) = slowdowns(client, {sender.id}, utcnow())
    assert (shown.group, shown.reason) == ("google", "421 4.7.0")
    assert shown.since >= started.replace(microsecond=0)
    assert throttled_groups(client) == {"google": 1}
    # Each domain was asked once and is kept for the workers.
    assert client.get(mx_providers.KEY + "brand.test") == b"google"
    assert client.get(mx_providers.KEY + "club.test") == b"mx:hostingco.net"


def test_transactional_mail_is_grouped_by_mx_too(app, mx_dns):
    project = make_project()
    sender = make_sender(project)
    with pipeline_sink(app) as sink:
        sink.rcpt_rules["orders@brandtwo-mail.com"] = THROTTLED
        message, _ = submit_message(
            project,
            actor=TEST_ACTOR,
            to="orders@brandtwo-mail.com",
            sender_id=sender.id,
            content={"subject": "Your receipt", "html": "<p>Thanks</p>", "text": "Thanks"},
        )
        transactional_send.send_message(message.id)
    db.session.expire_all()
    assert db.session.get(Message, message.id).status == DeliveryStatus.DEFERRED
    assert current_rate(get_redis(), sender.id, "google", utcnow()) == app.config["THROTTLE_RATE"]
