"""The demo project: enough data for a newcomer to click through everything."""

from __future__ import annotations

import random
import secrets

import sqlalchemy as sa

from mailapp.access.audit import Actor, record_audit
from mailapp.access.projects import create_project
from mailapp.delivery.senders import generate_dkim_key
from mailapp.extensions import db
from mailapp.models import (
    Campaign,
    Contact,
    List,
    ListMembership,
    Membership,
    Project,
    Role,
    Segment,
    Sender,
    Template,
    TemplateVersion,
    User,
    VersionStatus,
)
from mailapp.models.base import utcnow

DEMO_SLUG = "demo"
DEMO_CONTACTS = 1000
ZONES = [
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Europe/Moscow",
    None,
]
CITIES = ["Berlin", "London", "New York", "San Francisco", "Tokyo", "Sydney", "Moscow"]
FIRST_NAMES = ["Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Radia"]
PLANS = ["free", "pro", "team"]

DEMO_HTML = """<h1>Hello {{ contact.first_name | default("there") }}!</h1>
<p>This is the demo newsletter of mailapp. Read <a href="https://example.com/news">the news</a>
or <a href="https://example.com/docs">the documentation</a>.</p>
<p style="font-size:12px;color:#666">You receive this because you signed up at example.com.
Example Ltd, 1 Example Street, 10115 Berlin.
<a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
"""


def seed_demo(*, owner: User | None, actor: Actor) -> Project:
    """Create the demo project, or complete it; running it again changes nothing."""
    project = db.session.scalar(sa.select(Project).where(Project.slug == DEMO_SLUG))
    created = project is None
    if created:
        project = create_project(DEMO_SLUG, name="Demo", timezone="Europe/Berlin", actor=actor)
        project.postal_address = "Example Ltd, 1 Example Street, 10115 Berlin"
    pid = project.id
    before = _counts(pid)
    if owner is not None and not db.session.scalar(
        sa.select(Membership.id).where(Membership.user_id == owner.id, Membership.project_id == pid)
    ):
        db.session.add(Membership(user_id=owner.id, project_id=pid, role=Role.OWNER))
    sender = _first(Sender, pid) or _add(
        Sender(
            project_id=pid,
            name="Demo newsletter",
            from_name="Demo Team",
            from_email="news@demo.example.com",
            reply_to="support@demo.example.com",
            domain="demo.example.com",
            bounce_domain="bounces.demo.example.com",
            dkim_selector="mailapp",
            dkim_private_key=generate_dkim_key(),
            rate_per_second=50,
        )
    )
    _seed_contacts(pid)
    lists = _seed_lists(pid)
    _first(Segment, pid) or _add(
        Segment(
            project_id=pid,
            name="Pro users in Berlin",
            rule={
                "all": [
                    {"field": "attributes.plan", "op": "eq", "value": "pro"},
                    {"field": "attributes.city", "op": "eq", "value": "Berlin"},
                ]
            },
        )
    )
    template = _first(Template, pid) or _seed_template(pid, owner)
    if _first(Campaign, pid) is None:
        _add(
            Campaign(
                project_id=pid,
                name="Demo newsletter #1",
                sender_id=sender.id,
                template_id=template.id,
                audience={"lists": [lists[0].id], "segment_id": None},
                utm={"utm_source": "mailapp", "utm_medium": "email", "utm_campaign": "demo-1"},
                created_by_id=owner.id if owner else None,
            )
        )
    if created or _counts(pid) != before:
        record_audit(actor, "project.seed_demo", project_id=pid, obj=project)
    db.session.commit()
    return project


def _counts(project_id: int) -> list[int]:
    return [
        db.session.scalar(
            sa.select(sa.func.count()).select_from(model).where(model.project_id == project_id)
        )
        for model in (Sender, Contact, List, Segment, Template, Campaign, Membership)
    ]


def _first(model: type, project_id: int):
    return db.session.scalar(sa.select(model).where(model.project_id == project_id).limit(1))


def _add(obj):
    db.session.add(obj)
    db.session.flush()
    return obj


def _seed_contacts(project_id: int) -> None:
    have = db.session.scalar(
        sa.select(sa.func.count()).select_from(Contact).where(Contact.project_id == project_id)
    )
    rng = random.Random(42)  # noqa: S311 - repeatable demo data, not secrets
    now = utcnow()
    rows = []
    for i in range(have, DEMO_CONTACTS):
        first = rng.choice(FIRST_NAMES)
        email = f"{first.lower()}.{i:04d}@demo.example.com"
        rows.append(
            {
                "project_id": project_id,
                "email": email,
                "email_raw": email,
                "first_name": first,
                "last_name": f"Demo{i:04d}",
                "timezone": rng.choice(ZONES),
                "locale": rng.choice(["en", "de", "fr"]),
                "source": "demo",
                "attributes": {
                    "city": rng.choice(CITIES),
                    "plan": rng.choice(PLANS),
                    "age": rng.randint(18, 80),
                },
                "created_at": now,
                "updated_at": now,
            }
        )
    if rows:
        db.session.execute(sa.insert(Contact), rows)


def _seed_lists(project_id: int) -> list[List]:
    lists = db.session.scalars(
        sa.select(List).where(List.project_id == project_id).order_by(List.id)
    ).all()
    if len(lists) >= 2:
        return list(lists)
    newsletter = _add(
        List(project_id=project_id, name="Newsletter", token=secrets.token_urlsafe(16))
    )
    product = _add(
        List(project_id=project_id, name="Product updates", token=secrets.token_urlsafe(16))
    )
    now = utcnow()
    for lst, modulo in ((newsletter, 1), (product, 3)):
        # Set-based: every contact on the newsletter, every third on product updates.
        select = sa.select(
            sa.literal(lst.id),
            Contact.id,
            sa.literal(project_id),
            sa.literal("confirmed"),
            sa.literal(now, type_=ListMembership.__table__.c.created_at.type),
            sa.literal(now, type_=ListMembership.__table__.c.confirmed_at.type),
        ).where(Contact.project_id == project_id, Contact.id % modulo == 0)
        db.session.execute(
            sa.insert(ListMembership).from_select(
                ["list_id", "contact_id", "project_id", "status", "created_at", "confirmed_at"],
                select,
            )
        )
    return [newsletter, product]


def _seed_template(project_id: int, owner: User | None) -> Template:
    template = _add(Template(project_id=project_id, name="Demo newsletter"))
    version = _add(
        TemplateVersion(
            project_id=project_id,
            template_id=template.id,
            number=1,
            status=VersionStatus.PUBLISHED,
            subject="News from the demo, {{ contact.first_name | default('friend') }}",
            preheader="What happened this month",
            html=DEMO_HTML,
            author_id=owner.id if owner else None,
            published_at=utcnow(),
        )
    )
    template.published_version_id = version.id
    return template
