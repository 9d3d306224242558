"""Small factories for test data; each commits, like a service would."""

from __future__ import annotations

import itertools

from mailapp.access.audit import Actor
from mailapp.access.projects import create_project
from mailapp.access.users import create_user
from mailapp.extensions import db
from mailapp.models import Contact, Project, User

TEST_ACTOR = Actor.system("test")
PASSWORD = "correct horse battery"
_seq = itertools.count(1)


def make_project(slug: str | None = None) -> Project:
    return create_project(slug or f"project-{next(_seq)}", actor=TEST_ACTOR)


def make_user(project: Project, role: str = "owner", email: str | None = None) -> User:
    return create_user(
        email or f"user{next(_seq)}@example.com",
        PASSWORD,
        role=role,
        project_slug=project.slug,
        actor=TEST_ACTOR,
    )


def make_contact(project: Project, email: str | None = None, **fields: object) -> Contact:
    email = email or f"contact{next(_seq)}@example.org"
    contact = Contact(project_id=project.id, email=email, email_raw=email, **fields)
    db.session.add(contact)
    db.session.commit()
    return contact


def make_campaign(project: Project, name: str = "Spring news", **fields: object):
    from mailapp.models import Campaign

    campaign = Campaign(project_id=project.id, name=name, **fields)
    db.session.add(campaign)
    db.session.commit()
    return campaign


def make_delivery(campaign, contact: Contact, **fields: object):
    from mailapp.models import Delivery

    delivery = Delivery(
        project_id=campaign.project_id, campaign_id=campaign.id, contact_id=contact.id, **fields
    )
    db.session.add(delivery)
    db.session.commit()
    return delivery
