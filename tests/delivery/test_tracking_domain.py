"""A sender's tracking domain (both databases): its mail's links, open pixel, unsubscribe and
web-copy links are on it; the domain check finds its CNAME right or says how to fix it; a
tracking domain that does not lead to us blocks the launch; its settings are checked."""

from __future__ import annotations

import email
import re

import pytest

from mailapp.access.validation import InvalidSettings
from mailapp.delivery.browser_view import web_copy
from mailapp.delivery.dns_checks import Finding
from mailapp.delivery.dns_lookup import Lookup
from mailapp.delivery.domain_setup import check_sender_domain, records_to_publish
from mailapp.delivery.preflight import _sender
from mailapp.delivery.sender_setup import update_sender
from mailapp.delivery.tracking_dns import check_tracking_cname
from mailapp.extensions import db
from mailapp.urls import read_verp
from tests.factories import (
    HTML,
    TEST_ACTOR,
    make_campaign,
    make_list,
    make_project,
    make_sender,
    make_template,
)
from tests.support.dns_zones import BOUNCE_MX, OUR_SPF, good_zone
from tests.support.pipeline import launch, pipeline_sink, run_pipeline

TARGET = "mail.test"  # BASE_URL's host in testing
LINKS = "links.example.com"


@pytest.fixture
def dns(app, dns_server):
    app.config.update(DNS_RESOLVER=dns_server.address, DNS_TIMEOUT=2.0)
    app.config.update(SPF_INCLUDE=OUR_SPF, BOUNCE_MX_HOST=BOUNCE_MX)
    return dns_server


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


def test_the_cname_check_tells_each_mistake_apart(dns):
    lookup = Lookup(dns.address, timeout=2.0)
    dns.set({LINKS: [("CNAME", f"{TARGET}.")]})
    [ok] = check_tracking_cname(lookup, LINKS, TARGET)
    assert (ok.code, ok.level) == ("tracking_ok", "ok")
    assert "HTTPS" in ok.text

    dns.set({})
    [missing] = check_tracking_cname(lookup, LINKS, TARGET)
    assert (missing.code, missing.level, missing.record) == (
        "tracking_missing",
        "error",
        "mail.test.",
    )
    assert missing.host == LINKS
    assert "unsubscribe" in missing.text

    dns.set({LINKS: [("CNAME", "old-esp.example.net.")]})
    [elsewhere] = check_tracking_cname(lookup, LINKS, TARGET)
    assert elsewhere.code == "tracking_elsewhere"
    assert "old-esp.example.net" in elsewhere.text

    # A panel that appends the zone's name to the full name typed in.
    dns.set({f"{LINKS}.example.com": [("CNAME", f"{TARGET}.")]})
    [doubled] = check_tracking_cname(lookup, LINKS, TARGET)
    assert doubled.code == "tracking_wrong_host"
    assert "rename it to links" in doubled.text

    dns.set({}, broken={LINKS})
    [unreachable] = check_tracking_cname(lookup, LINKS, TARGET)
    assert (unreachable.code, unreachable.level) == ("tracking_unreachable", "warning")

    assert check_tracking_cname(lookup, None, TARGET) == []


def test_the_wizard_shows_the_cname_and_the_stored_check_blocks_a_launch(app, dns):
    project = make_project()
    sender = make_sender(project, tracking_domain=LINKS)
    zone = good_zone(sender.dkim_private_key)
    dns.set(zone)
    records = {r.purpose: r for r in records_to_publish(sender)}
    assert (records["Tracking links"].host, records["Tracking links"].type) == (LINKS, "CNAME")
    assert records["Tracking links"].value == "mail.test."
    # TRACKING_CNAME_TARGET names our host when BASE_URL's is not the one to point at.
    app.config["TRACKING_CNAME_TARGET"] = "track.relay.test"
    assert records_to_publish(sender)[-1].value == "track.relay.test."
    app.config["TRACKING_CNAME_TARGET"] = None

    result = check_sender_domain(project, sender.id)
    assert "tracking_missing" in {r["code"] for r in result["results"]}
    checks = {c.name: c for c in _sender(_reloaded(sender))}
    assert checks["tracking"].blocking
    assert not checks["tracking"].ok
    assert "has no CNAME record" in checks["tracking"].message

    dns.set({**zone, LINKS: [("CNAME", f"{TARGET}.")]})
    assert check_sender_domain(project, sender.id)["worst"] == "ok"
    checks = {c.name: c for c in _sender(_reloaded(sender))}
    assert checks["tracking"].ok


def test_a_senders_mail_links_to_its_tracking_domain(app):
    with pipeline_sink(app) as sink:
        project = make_project()
        sender = make_sender(project, tracking_domain=LINKS)
        template = make_template(
            project, HTML + '\n<p><a href="{{ view_in_browser_url }}">View online</a></p>'
        )
        campaign = make_campaign(project, sender, template, [make_list(project, 2)])
        launch(project, campaign)
        run_pipeline(campaign.id)
        assert len(sink.messages) == 2
        message = email.message_from_bytes(sink.messages[0].data)
    html = next(p for p in message.walk() if p.get_content_type() == "text/html")
    body = html.get_payload(decode=True).decode()
    urls = re.findall(r'(?:href|src)="(https?://[^"]+)"', body)
    ours = [u for u in urls if "/t/" in u or "/u/" in u or "/v/" in u]
    assert {"/t/c/", "/t/o/", "/u/", "/v/"} <= {
        m for u in ours for m in ("/t/c/", "/t/o/", "/u/", "/v/") if m in u
    }
    assert all(u.startswith(f"https://{LINKS}/") for u in ours)
    assert "mail.test" not in body
    assert f"https://{LINKS}/u/" in message["List-Unsubscribe"]
    # The web copy's links stay on the same host as the message's.
    view = next(u for u in ours if "/v/" in u)
    copy = web_copy(view.rsplit("/", 1)[1])
    assert f"https://{LINKS}/t/c/" in copy
    assert "mail.test" not in copy
    _, delivery_id = read_verp(app.config["SECRET_KEY"], sink.messages[0].mail_from)
    assert delivery_id


def test_a_tracking_domain_is_a_host_name_below_the_sending_domain(app):
    project = make_project()
    sender = make_sender(project)
    with pytest.raises(InvalidSettings) as refused:
        update_sender(project, sender.id, {"tracking_domain": "example.com"}, actor=TEST_ACTOR)
    assert "links.example.com" in refused.value.errors["tracking_domain"]
    with pytest.raises(InvalidSettings) as refused:
        update_sender(project, sender.id, {"tracking_domain": "not a host"}, actor=TEST_ACTOR)
    assert "not a domain name" in refused.value.errors["tracking_domain"]
    update_sender(project, sender.id, {"tracking_domain": "Links.Example.com."}, actor=TEST_ACTOR)
    db.session.expire_all()
    assert _reloaded(sender).tracking_domain == LINKS
    update_sender(project, sender.id, {"tracking_domain": None}, actor=TEST_ACTOR)
    assert _reloaded(sender).tracking_domain is None


def _reloaded(sender):
    db.session.expire_all()
    return db.session.get(type(sender), sender.id)
