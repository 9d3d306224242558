"""Stray returned mail in the back office: operators only, strays only, shown as text."""

from __future__ import annotations

import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.feedback.inbound import ingest_message
from mailapp.models import InboundMessage
from mailapp.urls import LinkSigner
from tests.admin.conftest import login
from tests.factories import (
    TEST_ACTOR,
    make_contact,
    make_delivery,
    make_project,
    make_sent_campaign,
    make_user,
)
from tests.support.bounces import BOUNCE_DOMAIN, dsn
from tests.support.corpus import FLANKER


def operator(project):
    user = make_user(project, "owner")
    user.is_superuser = True
    db.session.commit()
    return user


def strays_and_a_mapped_one():
    """Two projects; a forged-VERP hard bounce, an unknown report, and one that maps."""
    acme, other = make_project("acme"), make_project("other")
    contact = make_contact(acme, "ada@example.org")
    delivery = make_delivery(make_sent_campaign(acme), contact, status="sent")
    good = LinkSigner.from_app().verp_address(delivery.id, BOUNCE_DOMAIN)
    local, domain = good.split("@")
    forged = f"{local[:-1]}{'a' if local[-1] != 'a' else 'b'}@{domain}"
    # The address is in both projects, so it cannot decide either.
    make_contact(other, "ada@example.org")
    hard = ingest_message(
        dsn(forged, "ada@example.org", "5.1.1", "550 5.1.1 <ada@example.org>: user unknown")
        + b"<script>alert(1)</script>\r\n",
        source="pipe",
        actor=TEST_ACTOR,
    )
    unknown = ingest_message(
        b"From: someone@example.net\r\nTo: postmaster@example.com\r\nSubject: hello\r\n\r\nhi\r\n",
        source="imap",
        actor=TEST_ACTOR,
    )
    mapped = ingest_message(
        dsn(good, "ada@example.org", "5.2.2", "552 5.2.2 mailbox full"),
        source="pipe",
        actor=TEST_ACTOR,
    )
    assert (hard.project_id, unknown.project_id, mapped.project_id) == (None, None, acme.id)
    return acme, other, hard, unknown, mapped


def test_operator_lists_strays_filters_by_class_and_never_sees_project_rows(app, client):
    acme, _other, hard, unknown, mapped = strays_and_a_mapped_one()
    login(client, operator(acme))
    page = client.get("/admin/strayinbound/").get_data(as_text=True)
    assert f"id={hard.id}" in page
    assert f"id={unknown.id}" in page
    assert f"id={mapped.id}" not in page  # a project's returned mail, not a stray
    assert "Stray returned mail" in client.get("/admin/").get_data(as_text=True)
    assert "Classification" in page  # the class filter is offered
    filtered = client.get("/admin/strayinbound/?flt0_0=bounce_hard").get_data(as_text=True)
    assert f"id={hard.id}" in filtered
    assert f"id={unknown.id}" not in filtered
    assert client.get(f"/admin/strayinbound/details/?id={mapped.id}").status_code == 404
    assert client.get(f"/admin/strayinbound/raw/?id={mapped.id}").status_code == 404


def test_details_show_classification_addresses_code_why_and_the_raw_text(app, client):
    acme, _other, hard, _unknown, _mapped = strays_and_a_mapped_one()
    login(client, operator(acme))
    page = client.get(f"/admin/strayinbound/details/?id={hard.id}").get_data(as_text=True)
    assert "bounce_hard" in page
    assert "5.1.1" in page
    assert "550 5.1.1 &lt;ada@example.org&gt;: user unknown" in page
    reason = page.split('id="stray-reason">', 1)[1].split("</p>", 1)[0]
    assert reason.startswith("a VERP address is present but names no mail of ours")
    assert "token does not verify" in page.split('id="stray-verp">', 1)[1]
    recipients = page.split('id="stray-recipients">', 1)[1].split("</table>", 1)[0]
    assert "ada@example.org" in recipients
    raw = page.split('id="stray-raw">', 1)[1].split("</pre>", 1)[0]
    assert "Final-Recipient: rfc822; ada@example.org" in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    assert "<script>alert(1)" not in page
    download = client.get(f"/admin/strayinbound/raw/?id={hard.id}")
    assert download.data == db.session.get(InboundMessage, hard.id).raw
    assert download.mimetype == "text/plain"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Disposition"].startswith("attachment")


def test_project_members_never_see_strays_whatever_their_role(app, client):
    acme, _other, hard, _unknown, _mapped = strays_and_a_mapped_one()
    owner = make_user(acme, "owner")
    login(client, owner)
    for url in (
        "/admin/strayinbound/",
        f"/admin/strayinbound/details/?id={hard.id}",
        f"/admin/strayinbound/raw/?id={hard.id}",
    ):
        assert client.get(url).status_code == 403, url
    assert "Stray returned mail" not in client.get("/admin/").get_data(as_text=True)
    # Their own project's returned mail stays where it was, without the strays.
    own = client.get("/admin/inboundmessage/").get_data(as_text=True)
    assert f"id={hard.id}" not in own
    assert db.session.scalar(sa.select(sa.func.count()).select_from(InboundMessage)) == 3


def test_a_real_bounce_without_verp_says_why(app, client):
    acme = make_project()
    raw = (FLANKER / "bounce" / "gmail-invalid-address.eml").read_bytes()
    stray = ingest_message(raw, source="maildir", actor=TEST_ACTOR)
    assert stray.project_id is None
    login(client, operator(acme))
    page = client.get(f"/admin/strayinbound/details/?id={stray.id}").get_data(as_text=True)
    reason = page.split('id="stray-reason">', 1)[1].split("</p>", 1)[0]
    assert reason.startswith("no VERP address")
    assert 'id="stray-verp"' not in page
    recipients = page.split('id="stray-recipients">', 1)[1].split("</table>", 1)[0]
    assert "awfawfawfawfawfaw@someserverhere.com" in recipients
    assert stray.classification in recipients
