"""A list's member counts are kept by the database (`list_member_counts`, migration s9_0001)
and always equal a grouped count of its memberships, whatever wrote them."""

from __future__ import annotations

import sqlalchemy as sa

from mailapp.audience.contacts import delete_contact
from mailapp.audience.gdpr import erase_contact
from mailapp.audience.lists import (
    add_contacts,
    create_list,
    list_counts,
    remove_contacts,
    set_membership_status,
)
from mailapp.extensions import db
from mailapp.models import List, ListMemberCount, ListMembership, MembershipStatus
from tests.factories import TEST_ACTOR, make_contact, make_list, make_project


def grouped(project_id: int) -> dict[int, dict[str, int]]:
    """The truth: the memberships grouped as the lists page used to group them."""
    rows = db.session.execute(
        sa.select(ListMembership.list_id, ListMembership.status, sa.func.count())
        .where(ListMembership.project_id == project_id)
        .group_by(ListMembership.list_id, ListMembership.status)
    )
    counts: dict[int, dict[str, int]] = {}
    for list_id, status, count in rows:
        counts.setdefault(list_id, {})[status.value] = count
    return counts


def test_counts_follow_every_kind_of_membership_write(app) -> None:
    with app.app_context():
        project = make_project()
        news = make_list(project, 5)  # bulk INSERT through the factory
        other = create_list(project.id, "Other", actor=TEST_ACTOR)
        ids = list(db.session.scalars(sa.select(ListMembership.contact_id).where(
            ListMembership.list_id == news.id).order_by(ListMembership.contact_id)))  # fmt: skip
        assert list_counts(project.id) == {news.id: {"confirmed": 5}} == grouped(project.id)

        add_contacts(project.id, other.id, ids[:3], actor=TEST_ACTOR)  # INSERT ... SELECT
        set_membership_status(project.id, news.id, ids[:2], MembershipStatus.UNSUBSCRIBED,
                              actor=TEST_ACTOR)  # fmt: skip
        remove_contacts(project.id, other.id, ids[2:3], actor=TEST_ACTOR)
        late = make_contact(project, "late@example.org")
        db.session.add(ListMembership(project_id=project.id, list_id=news.id, contact_id=late.id,
                                      status=MembershipStatus.UNCONFIRMED))  # fmt: skip
        db.session.commit()  # one row through the ORM
        delete_contact(project.id, ids[0], actor=TEST_ACTOR)  # memberships go by cascade
        erase_contact(project.id, ids[3], actor=TEST_ACTOR)

        expected = {
            news.id: {"confirmed": 2, "unsubscribed": 1, "unconfirmed": 1},
            other.id: {"confirmed": 1},
        }
        assert grouped(project.id) == expected  # the writes did what the test says
        assert list_counts(project.id) == expected
        assert list_counts(project.id, [other.id]) == {other.id: {"confirmed": 1}}


def test_moving_a_membership_to_another_list_moves_its_count(app) -> None:
    with app.app_context():
        project = make_project()
        first, second = make_list(project, 3), make_list(project, 0)
        db.session.execute(
            sa.update(ListMembership)
            .where(ListMembership.list_id == first.id)
            .values(list_id=second.id, status=MembershipStatus.UNCONFIRMED)
        )
        db.session.commit()
        assert list_counts(project.id) == {second.id: {"unconfirmed": 3}} == grouped(project.id)


def test_a_deleted_list_takes_its_counts_and_other_projects_see_none(app) -> None:
    with app.app_context():
        project, stranger = make_project(), make_project()
        kept, dropped = make_list(project, 2), make_list(project, 4)
        theirs = make_list(stranger, 1)
        db.session.delete(db.session.get(List, dropped.id))
        db.session.commit()

        assert list_counts(project.id) == {kept.id: {"confirmed": 2}}
        assert db.session.scalars(sa.select(ListMemberCount.list_id).distinct()).all() in (
            [kept.id, theirs.id], [theirs.id, kept.id])  # fmt: skip
        # The tenant filter: another project's list ids name nothing here.
        assert list_counts(project.id, [theirs.id]) == {}
        assert list_counts(stranger.id) == {theirs.id: {"confirmed": 1}}


def test_a_rolled_back_write_leaves_the_counts_as_they_were(app) -> None:
    with app.app_context():
        project = make_project()
        news = make_list(project, 2)
        ids = db.session.scalars(
            sa.select(ListMembership.contact_id).where(ListMembership.list_id == news.id)
        ).all()
        db.session.execute(sa.delete(ListMembership).where(ListMembership.contact_id == ids[0]))
        assert list_counts(project.id) == {news.id: {"confirmed": 1}}  # inside the transaction
        db.session.rollback()
        assert list_counts(project.id) == {news.id: {"confirmed": 2}}
