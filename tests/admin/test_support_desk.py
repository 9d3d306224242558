"""The support desk in the back office: who may unsubscribe, resubscribe, erase and suppress."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mailapp.audience.lists import add_contacts, create_list
from mailapp.extensions import db
from mailapp.models import (
    ConsentRecord,
    Contact,
    ContactStatus,
    ListMembership,
    MembershipStatus,
    Suppression,
)
from tests.admin.conftest import TOKEN, login
from tests.factories import TEST_ACTOR, make_contact, make_project, make_user


@pytest.fixture
def desk(app, client):
    project = make_project()
    contact = make_contact(project, "pat@example.com")
    news = create_list(project.id, "News", actor=TEST_ACTOR)
    offers = create_list(project.id, "Offers", actor=TEST_ACTOR)
    for lst in (news, offers):
        add_contacts(project.id, lst.id, [contact.id], actor=TEST_ACTOR)
    return project, contact, news, offers


def _token(client, contact) -> str:
    page = client.get(f"/admin/contact/profile/{contact.id}")
    assert page.status_code == 200
    return TOKEN.search(page.data).group(1).decode()


def _membership(lst, contact) -> MembershipStatus:
    db.session.expire_all()
    return db.session.get(ListMembership, (lst.id, contact.id)).status


def test_support_unsubscribes_from_one_list_then_everything(desk, client) -> None:
    project, contact, news, offers = desk
    login(client, make_user(project, "support"))
    page = client.get(f"/admin/contact/profile/{contact.id}")
    assert b"Unsubscribe from everything" in page.data
    assert b"Danger zone" in page.data
    token = _token(client, contact)
    done = client.post(
        f"/admin/contact/profile/{contact.id}/unsubscribe",
        data={"csrf_token": token, "list_id": str(news.id)},
        follow_redirects=True,
    )
    assert "Unsubscribed from “News”".encode() in done.data
    assert _membership(news, contact) is MembershipStatus.UNSUBSCRIBED
    assert _membership(offers, contact) is MembershipStatus.CONFIRMED

    client.post(
        f"/admin/contact/profile/{contact.id}/unsubscribe",
        data={"csrf_token": token, "scope": "everything"},
    )
    assert _membership(offers, contact) is MembershipStatus.UNSUBSCRIBED
    assert db.session.get(Contact, contact.id).status is ContactStatus.UNSUBSCRIBED
    assert db.session.scalar(sa.select(Suppression.reason)).value == "unsubscribe"


def test_resubscribe_without_consent_is_a_400_and_changes_nothing(desk, client) -> None:
    project, contact, news, _ = desk
    login(client, make_user(project, "support"))
    token = _token(client, contact)
    client.post(
        f"/admin/contact/profile/{contact.id}/unsubscribe",
        data={"csrf_token": token, "list_id": str(news.id)},
    )
    refused = client.post(
        f"/admin/contact/profile/{contact.id}/resubscribe",
        data={"csrf_token": token, "list_id": str(news.id), "consent": " "},
    )
    assert refused.status_code == 400
    assert b"say how the person gave consent" in refused.data
    assert _membership(news, contact) is MembershipStatus.UNSUBSCRIBED

    client.post(
        f"/admin/contact/profile/{contact.id}/resubscribe",
        data={"csrf_token": token, "list_id": str(news.id), "consent": "asked by phone"},
    )
    assert _membership(news, contact) is MembershipStatus.CONFIRMED
    sources = db.session.scalars(sa.select(ConsentRecord.source)).all()
    assert "asked by phone" in sources


def test_erase_needs_the_typed_address(desk, client) -> None:
    project, contact, _, _ = desk
    login(client, make_user(project, "support"))
    form = client.get(f"/admin/contact/profile/{contact.id}/erase")
    assert b"type the contact" in form.data
    token = TOKEN.search(form.data).group(1).decode()
    for typed in ("", "pat@example.org"):
        refused = client.post(
            f"/admin/contact/profile/{contact.id}/erase",
            data={"csrf_token": token, "confirmation": typed},
        )
        assert refused.status_code == 400
        assert b"nothing was erased" in refused.data or b"to confirm the erasure" in refused.data
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).status is ContactStatus.ACTIVE
    client.post(
        f"/admin/contact/profile/{contact.id}/erase",
        data={"csrf_token": token, "confirmation": "pat@example.com"},
    )
    db.session.expire_all()
    assert db.session.get(Contact, contact.id).status is ContactStatus.ERASED


def test_analyst_can_read_but_not_act(desk, client) -> None:
    project, contact, news, _ = desk
    login(client, make_user(project, "analyst"))
    page = client.get(f"/admin/contact/profile/{contact.id}")
    assert page.status_code == 200
    assert b"Unsubscribe" not in page.data
    assert b"Danger zone" not in page.data
    token = TOKEN.search(client.get("/account/password").data).group(1).decode()
    base = f"/admin/contact/profile/{contact.id}"
    for path, data in (
        ("/unsubscribe", {"list_id": str(news.id)}),
        ("/resubscribe", {"list_id": str(news.id), "consent": "x"}),
        ("/erase", {"confirmation": "pat@example.com"}),
    ):
        assert client.post(base + path, data={"csrf_token": token, **data}).status_code == 403
    assert client.get("/admin/suppression/new/").status_code == 403
    assert _membership(news, contact) is MembershipStatus.CONFIRMED


def test_support_adds_suppressions_but_cannot_lift_them(app, client) -> None:
    project = make_project()
    login(client, make_user(project, "support"))
    form = client.get("/admin/suppression/new/")
    assert form.status_code == 200
    token = TOKEN.search(form.data).group(1).decode()
    client.post(
        "/admin/suppression/new/",
        data={"csrf_token": token, "email": "angry@example.com", "note": "asked by phone"},
    )
    entry = db.session.scalar(sa.select(Suppression))
    assert entry.email == "angry@example.com"
    assert entry.reason.value == "manual"
    lifted = client.post(
        "/admin/suppression/delete/", data={"csrf_token": token, "id": str(entry.id)}
    )
    assert lifted.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Suppression)) == 1


def test_contact_list_shows_the_total_pages_and_quarantine(app, client) -> None:
    project = make_project()
    for i in range(25):
        make_contact(project, f"c{i}@example.com", quarantined=(i == 24))
    login(client, make_user(project, "support"))
    page = client.get("/admin/contact/?page_size=20")
    assert b"25 contacts" in page.data
    assert b"page 1 of 2" in page.data
    assert b">quarantined</span>" in page.data
