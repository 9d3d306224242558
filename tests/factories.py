"""Test data, made once for every test: each factory commits, like a service would.

Projects, users and contacts; a sender with a DKIM key, published content, lists filled in
bulk and campaigns made through the service (ready to launch); bare sent campaigns with
their links, deliveries and transactional messages for tracking and report tests.
"""

from __future__ import annotations

import io
import itertools
from datetime import timedelta
from functools import lru_cache

import sqlalchemy as sa
from PIL import Image

from mailapp.access.audit import Actor
from mailapp.access.projects import create_project
from mailapp.access.users import create_user
from mailapp.delivery.campaigns import create_campaign
from mailapp.delivery.senders import generate_dkim_key
from mailapp.extensions import db
from mailapp.models import (
    Campaign,
    CampaignStatus,
    Contact,
    Delivery,
    DeliveryStatus,
    Link,
    List,
    ListMembership,
    Message,
    Project,
    Sender,
    Template,
    TemplateVersion,
    User,
    VersionStatus,
)
from mailapp.models.base import utcnow

TEST_ACTOR = Actor.system("test")
PASSWORD = "correct horse battery"
_seq = itertools.count(1)

HTML = """<p>Hello {{ contact.first_name | default("there") }},</p>
<p>Read <a href="https://example.com/news">the news</a> and
<a href="https://example.com/docs?x=1">the docs</a>.</p>
<p>{{ project.postal_address }}. You receive this because you subscribed.
<a href="{{ unsubscribe_url }}">Unsubscribe</a></p>"""


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


@lru_cache(maxsize=1)
def dkim_key() -> str:
    return generate_dkim_key()


def make_sender(project: Project, **fields: object) -> Sender:
    values = {
        "name": "News",
        "from_name": "Example News",
        "from_email": "news@example.com",
        "reply_to": "help@example.com",
        "domain": "example.com",
        "bounce_domain": "bounces.example.com",
        "dkim_selector": "sel1",
        "dkim_private_key": dkim_key(),
        **fields,
    }
    sender = Sender(project_id=project.id, **values)
    db.session.add(sender)
    db.session.commit()
    return sender


def make_template(
    project: Project, html: str = HTML, subject: str = "News for {{ contact.first_name }}"
) -> Template:
    if not project.postal_address:  # pre-flight wants it in every marketing footer
        project.postal_address = "Example Ltd, 1 Example Street, Berlin"
    template = Template(project_id=project.id, name=f"template {next(_seq)}")
    db.session.add(template)
    db.session.flush()
    version = TemplateVersion(
        project_id=project.id,
        template_id=template.id,
        number=1,
        status=VersionStatus.PUBLISHED,
        subject=subject,
        html=html,
        published_at=utcnow(),
    )
    db.session.add(version)
    db.session.flush()
    template.published_version_id = version.id
    db.session.commit()
    return template


def make_list(
    project: Project, count: int = 0, *, emails: list[str] | None = None, **contact_fields: object
) -> List:
    """A list with `count` generated contacts (or the given addresses), in bulk."""
    n = next(_seq)
    lst = List(project_id=project.id, name=f"list {n}", token=f"tok-{n}-{project.id}")
    db.session.add(lst)
    db.session.flush()
    emails = emails or [f"c{n}-{i}@example.org" for i in range(count)]
    add_contacts(project, lst, emails, **contact_fields)
    return lst


def add_contacts(project: Project, lst: List, emails: list[str], **fields: object) -> list[int]:
    if not emails:
        db.session.commit()
        return []
    now = utcnow()
    rows = [
        {
            "project_id": project.id,
            "email": e,
            "email_raw": e,
            "status": "active",
            "attributes": {},
            "first_name": f"N{i}",
            "created_at": now,
            "updated_at": now,
            "is_role_address": False,
            "is_disposable": False,
            "quarantined": False,
            "soft_bounces": 0,
            **fields,
        }
        for i, e in enumerate(emails)
    ]
    db.session.execute(sa.insert(Contact.__table__), rows)
    ids = db.session.scalars(
        sa.select(Contact.id).where(Contact.project_id == project.id, Contact.email.in_(emails))
    ).all()
    db.session.execute(
        sa.insert(ListMembership.__table__),
        [
            {
                "project_id": project.id,
                "list_id": lst.id,
                "contact_id": cid,
                "status": "confirmed",
                "created_at": now,
            }
            for cid in ids
        ],
    )
    db.session.commit()
    return list(ids)


def make_campaign(
    project: Project, sender: Sender, template: Template, lists: list[List], **fields: object
) -> Campaign:
    """A draft campaign made through the service, ready to launch."""
    return create_campaign(
        project,
        actor=TEST_ACTOR,
        name=fields.pop("name", f"campaign {next(_seq)}"),
        sender_id=sender.id,
        template_id=template.id,
        audience={"lists": [lst.id for lst in lists]},
        **fields,
    )


def make_sent_campaign(
    project: Project, urls: list[str] | None = None, *, name: str = "Spring news", **fields: object
) -> Campaign:
    """A bare launched campaign row (status SENT unless `fields` say otherwise) and its links."""
    values = {"status": CampaignStatus.SENT, "launched_at": utcnow(), **fields}
    campaign = Campaign(project_id=project.id, name=name, **values)
    db.session.add(campaign)
    db.session.flush()
    for position, url in enumerate(urls or ["https://shop.example.com/spring"]):
        db.session.add(
            Link(project_id=project.id, campaign_id=campaign.id, position=position, url=url)
        )
    db.session.commit()
    return campaign


def make_delivery(
    campaign: Campaign, contact: Contact, *, sent_minutes_ago: float = 60, **fields: object
) -> Delivery:
    """A delivery of `campaign` to `contact`, sent `sent_minutes_ago` unless `fields` give
    another status (then not sent) or their own sent_at."""
    values: dict[str, object] = {"status": DeliveryStatus.SENT, **fields}
    if "sent_at" not in values and values["status"] in (DeliveryStatus.SENT, "sent"):
        values["sent_at"] = utcnow() - timedelta(minutes=sent_minutes_ago)
    delivery = Delivery(
        project_id=campaign.project_id, campaign_id=campaign.id, contact_id=contact.id, **values
    )
    db.session.add(delivery)
    db.session.commit()
    return delivery


def make_message(project: Project, contact: Contact | None = None) -> Message:
    message = Message(
        project_id=project.id,
        recipient=contact.email if contact else "someone@example.org",
        contact_id=contact.id if contact else None,
        status=DeliveryStatus.SENT,
        sent_at=utcnow() - timedelta(minutes=60),
    )
    db.session.add(message)
    db.session.commit()
    return message


def links_of(campaign: Campaign) -> list[Link]:
    return list(
        db.session.scalars(
            sa.select(Link).where(Link.campaign_id == campaign.id).order_by(Link.position)
        )
    )


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (40, 20)) -> bytes:
    """A small real image in `fmt`, for asset uploads."""
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


def submit_tx(
    project: Project,
    to: str = "ada@example.org",
    *,
    tags: list[str] | None = None,
    **fields: object,
) -> Message:
    """A transactional message accepted through the service, as POST /api/v1/messages does
    (inline content unless `fields` name a template); not yet handed to a worker."""
    from mailapp.delivery.transactional import submit_message

    if "template_id" not in fields and "content" not in fields:
        fields["content"] = {"subject": "Your receipt", "html": "<p>Thanks, {{ data.name }}</p>"}
    message, _ = submit_message(project, actor=TEST_ACTOR, to=to, tags=tags, **fields)
    return message
