"""Test data for the send pipeline: a sender with a DKIM key, published content, a list
of contacts inserted in bulk, a campaign; and a loop that runs the pipeline in-process."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache

import sqlalchemy as sa
from flask import Flask

from mailapp.delivery import batches, pipeline
from mailapp.delivery.campaigns import create_campaign
from mailapp.delivery.launch import launch_campaign
from mailapp.delivery.senders import generate_dkim_key
from mailapp.extensions import db
from mailapp.models import (
    Campaign,
    Contact,
    List,
    ListMembership,
    Project,
    Sender,
    Template,
    TemplateVersion,
    VersionStatus,
)
from mailapp.models.base import utcnow
from tests.factories import TEST_ACTOR
from tests.support.smtp_sink import SmtpSink

HTML = """<p>Hello {{ contact.first_name | default("there") }},</p>
<p>Read <a href="https://example.com/news">the news</a> and
<a href="https://example.com/docs?x=1">the docs</a>.</p>
<p>{{ project.postal_address }}. You receive this because you subscribed.
<a href="{{ unsubscribe_url }}">Unsubscribe</a></p>"""
_seq = itertools.count(1)


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
    return create_campaign(
        project,
        actor=TEST_ACTOR,
        name=fields.pop("name", f"campaign {next(_seq)}"),
        sender_id=sender.id,
        template_id=template.id,
        audience={"lists": [lst.id for lst in lists]},
        **fields,
    )


def launch(project: Project, campaign: Campaign, now: datetime | None = None) -> Campaign:
    return launch_campaign(project, campaign.id, actor=TEST_ACTOR, now=now)


def send_campaign(
    project: Project, template: Template, contacts: int, **fields: object
) -> Campaign:
    """Create, launch and send (in-process) a campaign of `template` to new contacts."""
    campaign = make_campaign(
        project, make_sender(project), template, [make_list(project, contacts)], **fields
    )
    launch(project, campaign)
    run_pipeline(campaign.id)
    return campaign


def run_pipeline(campaign_id: int, *, now: datetime | None = None, rounds: int = 50) -> None:
    """Dispatch and send in-process until nothing is due (the worker's job, synchronously)."""
    for _ in range(rounds):
        plan = pipeline.plan_dispatch(now=now)
        for cid in plan.prepare:
            pipeline.prepare_deliveries(cid, now=now)
        for cid, ids in plan.batches:
            batches.send_batch(cid, ids)
        if not plan.prepare and not plan.batches:
            return


@contextlib.contextmanager
def pipeline_sink(app: Flask) -> Iterator[SmtpSink]:
    """A real SMTP sink the in-process pipeline sends to, in small groups and batches."""
    sink = SmtpSink().start()
    app.config.update(SMTP_URL=sink.url, SEND_GROUP_SIZE=4, DISPATCH_BATCH_SIZE=10)
    try:
        yield sink
    finally:
        sink.stop()
        batches.transport_pool().close()
