"""The stored domain check (both databases): its time, the alert when it gets worse, the
scheduled re-check, and pre-flight reading it; DNS answered by the tests' server."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa
from dramatiq import Message

from mailapp.delivery.domain_setup import check_sender_domain, records_to_publish
from mailapp.delivery.preflight import _sender
from mailapp.delivery.senders import dkim_dns_record, dkim_public_key, generate_dkim_key
from mailapp.extensions import db
from mailapp.models import Alert, AlertKind, AuditLog, Sender
from tests.factories import TEST_ACTOR, make_project, make_sender
from tests.support.dns_zones import BOUNCE_MX, OUR_SPF, good_zone
from workers.actors.domains import check_sender_domain as check_actor
from workers.actors.domains import check_sender_domains
from workers.broker import broker
from workers.scheduler import JOBS


@pytest.fixture
def setup(app, dns_server):
    """A project, a sender with a key, and the DNS server publishing its records right."""
    app.config.update(DNS_RESOLVER=dns_server.address, DNS_TIMEOUT=2.0)
    app.config.update(SPF_INCLUDE=OUR_SPF, BOUNCE_MX_HOST=BOUNCE_MX)
    project = make_project()
    sender = make_sender(project)
    dns_server.set(good_zone(sender.dkim_private_key))
    return project, sender, dns_server


def by_name(checks):
    return {c.name: c for c in checks}


def test_a_check_is_stored_with_its_time_and_audited(setup):
    project, sender, _ = setup
    result = check_sender_domain(project, sender.id, actor=TEST_ACTOR)
    db.session.expire_all()
    stored = db.session.get(Sender, sender.id).verification
    assert stored == result
    assert stored["worst"] == "ok"
    assert datetime.fromisoformat(stored["checked_at"])
    assert {r["code"] for r in stored["results"]} == {
        "spf_ok", "dkim_ok", "dmarc_ok", "dmarc_aligned", "bounce_ok",
    }  # fmt: skip
    assert db.session.scalar(sa.select(AuditLog.action).where(AuditLog.action.like("sender.dns%")))


def test_a_check_that_got_worse_alerts_the_owner(setup):
    project, sender, dns = setup
    check_sender_domain(project, sender.id)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Alert)) == 0
    # Somebody replaces the DKIM record with another key.
    dns.zone["sel1._domainkey.example.com."] = [("TXT", [dkim_dns_record(generate_dkim_key())])]
    result = check_sender_domain(project, sender.id)
    assert result["worst"] == "error"
    alert = db.session.scalars(sa.select(Alert)).one()
    assert alert.kind == AlertKind.DNS_WORSE
    assert alert.subject == "domain:example.com"
    assert "Signature (DKIM)" in alert.text
    assert "does not match" in alert.text
    # The same broken state again is not "worse": no second alert.
    check_sender_domain(project, sender.id)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Alert)) == 1


def test_the_first_check_is_no_change_for_the_worse(setup):
    project, sender, dns = setup
    dns.set({})
    assert check_sender_domain(project, sender.id)["worst"] == "error"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Alert)) == 0


def test_the_scheduled_recheck_checks_each_sender(setup):
    project, sender, _ = setup
    other = make_sender(make_project(), domain="other.test", from_email="a@other.test")
    [job] = [j for j in JOBS if j.actor == "workers.actors.domains:check_sender_domains"]
    assert job.trigger_args == {"hours": 6}
    check_sender_domains.fn()
    queue = broker.queues[check_actor.queue_name].queue
    asked = [Message.decode(m).args for m in queue]
    assert [tuple(a) for a in asked] == [(project.id, sender.id), (other.project_id, other.id)]
    check_actor.fn(project.id, sender.id)
    check_actor.fn(project.id, other.id)  # another project's sender: not found, no change
    db.session.expire_all()
    assert db.session.get(Sender, sender.id).verification["worst"] == "ok"
    assert db.session.get(Sender, other.id).verification == {}


def test_records_to_publish(setup):
    _, sender, _ = setup
    records = {r.purpose: r for r in records_to_publish(sender)}
    assert records["SPF"].host == "bounces.example.com"
    assert records["SPF"].value == "v=spf1 include:_spf.relay.test ~all"
    assert records["DKIM"].host == "sel1._domainkey.example.com"
    assert dkim_public_key(sender.dkim_private_key) in records["DKIM"].value
    assert records["DMARC"].host == "_dmarc.example.com"
    assert (records["Bounces"].type, records["Bounces"].value) == ("MX", f"10 {BOUNCE_MX}.")


def test_preflight_never_checked_passes_and_asks_for_a_check(setup):
    _, sender, _ = setup
    checks = by_name(_sender(sender))
    assert checks["dkim"].ok
    assert "never checked" in checks["dkim"].message
    assert "spf" not in checks
    assert "dmarc" not in checks


def test_preflight_blocks_on_a_dkim_mismatch_and_passes_with_the_right_record(setup):
    project, sender, dns = setup
    good = dns.zone["sel1._domainkey.example.com."]
    dns.zone["sel1._domainkey.example.com."] = [("TXT", [dkim_dns_record(generate_dkim_key())])]
    check_sender_domain(project, sender.id)
    dkim = by_name(_sender(sender))["dkim"]
    assert (dkim.ok, dkim.blocking) == (False, True)
    assert "sel1._domainkey.example.com does not match" in dkim.message
    dns.zone["sel1._domainkey.example.com."] = good
    check_sender_domain(project, sender.id)
    checks = by_name(_sender(sender))
    assert checks["dkim"].ok
    assert "matches the key" in checks["dkim"].message
    assert checks["spf"].ok
    assert checks["dmarc"].ok


def test_preflight_blocks_on_dmarc_alignment_and_warns_on_spf_and_dmarc(setup):
    project, sender, dns = setup
    sender.bounce_domain = "bounces.esp.test"
    sender.domain = "esp.test"
    sender.dkim_selector = "sel1"
    db.session.commit()
    dns.set(good_zone(sender.dkim_private_key, domain="esp.test"))
    check_sender_domain(project, sender.id)
    checks = by_name(_sender(sender))
    assert checks["dkim"].ok
    assert (checks["dmarc"].ok, checks["dmarc"].blocking) == (False, True)
    assert "would fail DMARC" in checks["dmarc"].message
    # Aligned again, with SPF and DMARC only warned about.
    sender.domain, sender.bounce_domain = "example.com", "bounces.example.com"
    db.session.commit()
    zone = good_zone(sender.dkim_private_key)
    zone["bounces.example.com"] = [("TXT", ["v=spf1 include:_spf.relay.test ?all"])]
    zone["_dmarc.example.com"] = [("TXT", ["v=DMARC1; p=none"])]
    dns.set(zone)
    check_sender_domain(project, sender.id)
    checks = by_name(_sender(sender))
    assert (checks["spf"].ok, checks["spf"].blocking) == (False, False)
    assert "?all" in checks["spf"].message
    assert (checks["dmarc"].ok, checks["dmarc"].blocking) == (False, False)
    assert "no rua=" in checks["dmarc"].message


def test_launch_is_refused_with_the_reason_until_the_dkim_record_matches(setup):
    from mailapp.delivery.launch import launch_campaign
    from mailapp.errors import ServiceError
    from mailapp.models import Campaign, CampaignStatus
    from tests.factories import make_campaign, make_list, make_template

    project, sender, dns = setup
    campaign = make_campaign(project, sender, make_template(project), [make_list(project, 2)])
    good = dns.zone["sel1._domainkey.example.com."]
    dns.zone["sel1._domainkey.example.com."] = [("TXT", [dkim_dns_record(generate_dkim_key())])]
    check_sender_domain(project, sender.id)
    with pytest.raises(ServiceError, match="does not match the sender's key"):
        launch_campaign(project, campaign.id, actor=TEST_ACTOR)
    db.session.rollback()
    dns.zone["sel1._domainkey.example.com."] = good
    check_sender_domain(project, sender.id)
    launch_campaign(project, campaign.id, actor=TEST_ACTOR)
    assert db.session.get(Campaign, campaign.id).status == CampaignStatus.SCHEDULED


def test_a_new_key_after_a_good_check_needs_a_new_check(setup):
    from mailapp.delivery.senders import generate_sender_key

    project, sender, _ = setup
    check_sender_domain(project, sender.id)
    assert by_name(_sender(sender))["dkim"].ok
    generate_sender_key(project, sender.id, actor=TEST_ACTOR)
    checks = by_name(_sender(sender))
    assert (checks["dkim"].ok, checks["dkim"].blocking) == (False, False)
    assert "changed since its last DNS check" in checks["dkim"].message
    assert "spf" not in checks
    # Checked again: the new selector's record is not published, so it blocks.
    check_sender_domain(project, sender.id)
    dkim = by_name(_sender(sender))["dkim"]
    assert (dkim.ok, dkim.blocking) == (False, True)
    assert f"No DKIM record at {sender.dkim_selector}._domainkey.example.com" in dkim.message
