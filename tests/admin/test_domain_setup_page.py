"""Settings → Domain set-up: the records to publish, Check now against the tests' DNS
server, the results in words, CSRF and permissions."""

from __future__ import annotations

import pytest

from mailapp.delivery.senders import dkim_public_key
from mailapp.extensions import db
from mailapp.models import Sender
from tests.admin.conftest import csrf_token, login
from tests.factories import make_project, make_sender, make_user
from tests.support.dns_zones import BOUNCE_MX, OUR_SPF, good_zone


@pytest.fixture
def owner_page(app, client, dns_server):
    app.config.update(DNS_RESOLVER=dns_server.address, DNS_TIMEOUT=2.0)
    app.config.update(SPF_INCLUDE=OUR_SPF, BOUNCE_MX_HOST=BOUNCE_MX)
    project = make_project()
    sender = make_sender(project)
    login(client, make_user(project, "owner"))
    return project, sender, dns_server


def test_the_page_shows_the_records_and_check_now_stores_the_result(client, owner_page):
    _, sender, dns = owner_page
    page = client.get(f"/admin/domains/{sender.id}/").get_data(as_text=True)
    assert "sel1._domainkey.example.com" in page
    assert dkim_public_key(sender.dkim_private_key) in page
    assert "v=spf1 include:_spf.relay.test ~all" in page
    assert "Not checked yet" in page
    assert "spf-unset" not in page
    # Nothing published yet: each problem in words, with the record to publish.
    answer = client.post(
        f"/admin/domains/{sender.id}/check", data={"csrf_token": csrf_token(client)}
    )
    assert answer.status_code == 302
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "thing(s) to fix" in page
    assert "No DKIM record at sel1._domainkey.example.com" in page
    assert "has no SPF record" in page
    assert "Must fix" in page
    assert "Last checked" in page
    # Published: all good.
    dns.set(good_zone(sender.dkim_private_key))
    client.post(f"/admin/domains/{sender.id}/check", data={"csrf_token": csrf_token(client)})
    db.session.expire_all()
    assert db.session.get(Sender, sender.id).verification["worst"] == "ok"
    listing = client.get("/admin/domains/").get_data(as_text=True)
    assert "Good" in listing


def test_check_now_needs_post_and_csrf_and_stays_in_the_project(client, owner_page):
    _, sender, _ = owner_page
    assert client.get(f"/admin/domains/{sender.id}/check").status_code == 405
    assert client.post(f"/admin/domains/{sender.id}/check").status_code == 400
    other = make_sender(make_project())
    token = csrf_token(client)
    assert (
        client.post(f"/admin/domains/{other.id}/check", data={"csrf_token": token}).status_code
        == 404
    )
    assert client.get(f"/admin/domains/{other.id}/").status_code == 404
    db.session.expire_all()
    assert db.session.get(Sender, sender.id).verification == {}


@pytest.mark.parametrize("role", ["marketer", "analyst", "support"])
def test_roles_without_senders_manage_are_refused(app, client, role):
    project = make_project()
    sender = make_sender(project)
    login(client, make_user(project, role))
    assert client.get("/admin/domains/").status_code == 403
    assert client.get(f"/admin/domains/{sender.id}/").status_code == 403


def test_senders_list_and_dkim_page_link_to_the_set_up(client, owner_page):
    _, sender, _ = owner_page
    link = f"/admin/domains/{sender.id}/"
    assert link in client.get("/admin/sender/").get_data(as_text=True)
    assert link in client.get("/admin/dkim/").get_data(as_text=True)


def test_the_page_says_when_our_spf_include_is_not_configured(app, client, owner_page):
    _, sender, _ = owner_page
    app.config["SPF_INCLUDE"] = []
    page = client.get(f"/admin/domains/{sender.id}/").get_data(as_text=True)
    assert "ask your administrator which include to add" in page


def test_a_tracking_domain_set_on_the_sender_shows_its_cname_and_its_check(client, owner_page):
    _, sender, dns = owner_page
    form = {
        "csrf_token": csrf_token(client),
        "name": sender.name,
        "from_name": sender.from_name,
        "from_email": sender.from_email,
        "domain": "example.com",
        "tracking_domain": "example.com",
        "dkim_private_key": "",
        "transport_url": "",
    }
    # At the sending domain itself a CNAME cannot be published: refused, saying why.
    refused = client.post("/admin/sender/edit/", query_string={"id": sender.id}, data=form)
    assert "links.example.com" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Sender, sender.id).tracking_domain is None
    form["tracking_domain"] = " Links.Example.com. "
    saved = client.post("/admin/sender/edit/", query_string={"id": sender.id}, data=form)
    assert saved.status_code == 302
    db.session.expire_all()
    assert db.session.get(Sender, sender.id).tracking_domain == "links.example.com"

    page = client.get(f"/admin/domains/{sender.id}/").get_data(as_text=True)
    assert "Tracking links" in page
    assert "mail.test." in page  # the CNAME's value: BASE_URL's host
    dns.set(good_zone(sender.dkim_private_key))
    client.post(f"/admin/domains/{sender.id}/check", data={"csrf_token": csrf_token(client)})
    page = client.get(f"/admin/domains/{sender.id}/").get_data(as_text=True)
    assert "links.example.com has no CNAME record" in page
