"""/u/<token>: GET shows and changes nothing; RFC 8058 one-click POST; the page's own forms."""

import re

import pytest
import sqlalchemy as sa

from mailapp.audience.suppression import is_suppressed
from mailapp.extensions import db
from mailapp.models import (
    AuditLog,
    ConsentRecord,
    Contact,
    ContactStatus,
    DailyStat,
    Event,
    EventType,
    List,
    ListMembership,
    MembershipStatus,
    Suppression,
)
from mailapp.urls import LinkSigner
from tests.factories import (
    make_contact,
    make_delivery,
    make_message,
    make_project,
    make_sent_campaign,
)


def _make_list(project, name):
    mailing_list = List(project_id=project.id, name=name, token=f"tok-{name}-{project.id}")
    db.session.add(mailing_list)
    db.session.commit()
    return mailing_list


@pytest.fixture
def subscribed(app):
    project = make_project()
    news, offers = _make_list(project, "News"), _make_list(project, "Offers")
    contact = make_contact(project, "ada@example.org")
    for mailing_list in (news, offers):
        db.session.add(
            ListMembership(project_id=project.id, list_id=mailing_list.id, contact_id=contact.id)
        )
    db.session.commit()
    campaign = make_sent_campaign(project, audience={"lists": [news.id]})
    delivery = make_delivery(campaign, contact)
    path = LinkSigner.from_app().unsubscribe_url(delivery.id).removeprefix("http://mail.test")
    return project, contact, news, offers, campaign, delivery, path


def _state(project, contact):
    db.session.expire_all()
    return (
        is_suppressed(project.id, contact.email),
        db.session.get(Contact, contact.id).status,
        sorted(
            db.session.execute(
                sa.select(ListMembership.list_id, ListMembership.status).where(
                    ListMembership.contact_id == contact.id
                )
            ).all()
        ),
        db.session.scalar(sa.select(sa.func.count(Event.id))),
    )


def _csrf(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html)[1]


def test_get_shows_the_choice_and_changes_nothing(client, subscribed):
    project, contact, news, _, *_, path = subscribed
    before = _state(project, contact)
    for _ in range(3):  # scanners prefetch: any number of GETs
        response = client.get(path)
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "ada@example.org" in page
        assert f'value="{news.id}"' in page  # leave only the campaign's list
        assert 'value="all"' in page
        assert f"{path}/preferences" in page
        assert client.get(f"{path}/preferences").status_code == 200
        assert client.head(path).status_code == 200
    assert _state(project, contact) == before
    assert before[0] is False


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_post_without_cookies_suppresses_at_once(app, subscribed, encoding):
    project, contact, news, offers, campaign, delivery, path = subscribed
    client = app.test_client(use_cookies=False)
    body = {"List-Unsubscribe": "One-Click"}
    if encoding == "multipart":
        response = client.post(path, data=body, content_type="multipart/form-data")
    else:
        response = client.post(path, data=body)
    assert response.status_code == 200
    assert "Location" not in response.headers
    assert "Set-Cookie" not in response.headers
    suppressed, status, memberships, _ = _state(project, contact)
    assert suppressed
    assert status == ContactStatus.UNSUBSCRIBED
    assert memberships == [
        (news.id, MembershipStatus.UNSUBSCRIBED),
        (offers.id, MembershipStatus.UNSUBSCRIBED),
    ]
    (event,) = db.session.scalars(sa.select(Event)).all()
    assert (event.type, event.delivery_id, event.campaign_id, event.contact_id) == (
        EventType.UNSUBSCRIBE,
        delivery.id,
        campaign.id,
        contact.id,
    )
    assert event.payload["method"] == "one-click"
    stat = db.session.scalar(sa.select(DailyStat).where(DailyStat.type == EventType.UNSUBSCRIBE))
    assert (stat.campaign_id, stat.count) == (campaign.id, 1)
    entry = db.session.scalar(sa.select(Suppression))
    assert entry.reason == "unsubscribe"
    withdrawn = db.session.scalars(sa.select(ConsentRecord.list_id)).all()
    assert sorted(withdrawn) == [news.id, offers.id]
    # A second one-click (mailbox providers retry) changes nothing more.
    assert client.post(path, data=body).status_code == 200
    assert db.session.scalar(sa.select(sa.func.count(Event.id))) == 1


def test_page_post_needs_the_csrf_token(app, subscribed):
    project, contact, *_, path = subscribed
    before = _state(project, contact)
    client = app.test_client()
    client.get(path)  # gets a session, but the POST below forgets the token
    assert client.post(path, data={"scope": "all"}).status_code == 400
    assert _state(project, contact) == before


def test_page_can_leave_only_the_campaigns_list(client, subscribed):
    project, contact, news, offers, *_, path = subscribed
    token = _csrf(client.get(path).get_data(as_text=True))
    response = client.post(path, data={"csrf_token": token, "scope": str(news.id)})
    assert response.status_code == 200
    assert "News" in response.get_data(as_text=True)
    suppressed, status, memberships, events = _state(project, contact)
    assert not suppressed
    assert status == ContactStatus.ACTIVE
    assert memberships == [
        (news.id, MembershipStatus.UNSUBSCRIBED),
        (offers.id, MembershipStatus.CONFIRMED),
    ]
    assert events == 1
    assert db.session.scalar(
        sa.select(AuditLog.context).where(AuditLog.action == "list.unsubscribe")
    ) == {"contact_id": contact.id, "lists": [news.id], "method": "page"}


def test_preferences_page_leaves_everything(client, subscribed):
    project, contact, *_, path = subscribed
    token = _csrf(client.get(f"{path}/preferences").get_data(as_text=True))
    response = client.post(path, data={"csrf_token": token, "scope": "all", "from": "preferences"})
    assert response.status_code == 200
    assert _state(project, contact)[0] is True
    event = db.session.scalar(sa.select(Event))
    assert event.payload["method"] == "preferences"


def test_forged_tokens_get_a_generic_page_and_change_nothing(app, subscribed):
    project, contact, _, _, _, delivery, path = subscribed
    before = _state(project, contact)
    token = path.rsplit("/", 1)[1]
    signer = LinkSigner.from_app()
    forged = [
        f"/u/{token[:-1]}{'b' if token[-1] == 'a' else 'a'}",
        "/u/nonsense",
        LinkSigner("another-secret", "").unsubscribe_url(delivery.id),
        signer.open_url(delivery.id).replace("/t/o/", "/u/").removeprefix("http://mail.test"),
        signer.unsubscribe_url(999_999).removeprefix("http://mail.test"),
    ]
    client = app.test_client(use_cookies=False)
    for bad in forged:
        page = client.get(bad)
        assert page.status_code == 404
        assert "not valid" in page.get_data(as_text=True)
        assert "ada@example.org" not in page.get_data(as_text=True)
        assert client.post(bad, data={"List-Unsubscribe": "One-Click"}).status_code == 404
    assert _state(project, contact) == before


def test_transactional_unsubscribe_suppresses_the_recipient(app):
    project = make_project()
    contact = make_contact(project, "bob@example.org")
    message = make_message(project, contact)
    path = LinkSigner.from_app("message").unsubscribe_url(message.id)
    response = app.test_client(use_cookies=False).post(
        path.removeprefix("http://mail.test"), data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200
    assert is_suppressed(project.id, "bob@example.org")
    event = db.session.scalar(sa.select(Event))
    assert (event.type, event.message_id, event.campaign_id) == (
        EventType.UNSUBSCRIBE,
        message.id,
        None,
    )
