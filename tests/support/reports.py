"""A campaign sent through the real pipeline, then opened, clicked and bounced through the
real event writer: the data the report tests and the browser test read."""

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from mailapp import clock
from mailapp.delivery.campaigns import create_campaign
from mailapp.extensions import db
from mailapp.feedback.events import record_events
from mailapp.models import Delivery, DeliveryStatus, Segment
from mailapp.models.base import utcnow
from tests.factories import (
    TEST_ACTOR,
    links_of,
    make_list,
    make_project,
    make_sender,
    make_template,
)
from tests.support.pipeline import launch, pipeline_sink, run_pipeline

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML)"
OUTLOOK = "Mozilla/4.0 (compatible; ms-office; MSOffice 16) Microsoft Outlook 16.0"
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
EMAILS = [f"r{n}@{domain}" for n, domain in enumerate(["gmail.com"] * 5 + ["web.de"] * 3)]


@contextlib.contextmanager
def midday(tmp_path: Path) -> Iterator[None]:
    """The in-process clock at 10:00 UTC today: the scenario's events, up to 80 minutes after
    the send, stay in the day the dashboards call today, whenever the suite runs."""
    start = datetime.now(UTC)
    target = start.replace(hour=10, minute=0, second=0, microsecond=0)
    path = tmp_path / "clock"
    path.write_text(str((target - start).total_seconds()), encoding="ascii")
    clock.configure({"MAILAPP_ENV": "testing", "MAILAPP_CLOCK_FILE": str(path)})
    try:
        yield
    finally:
        clock.configure()


def send_and_track(app: Flask) -> tuple:
    """8 recipients on two domains, through the real send path; then opens, clicks, bounces."""
    project = make_project()
    rule = {"all": [{"field": "email", "op": "contains", "value": "@"}]}
    segment = Segment(project_id=project.id, name="Everyone", rule=rule)
    db.session.add(segment)
    db.session.commit()
    with pipeline_sink(app):
        campaign = create_campaign(
            project,
            actor=TEST_ACTOR,
            name="June news",
            sender_id=make_sender(project).id,
            template_id=make_template(project).id,
            audience={"lists": [make_list(project, emails=EMAILS).id], "segment_id": segment.id},
        )
        launch(project, campaign)
        run_pipeline(campaign.id)
    deliveries = db.session.scalars(
        sa.select(Delivery).where(Delivery.campaign_id == campaign.id).order_by(Delivery.id)
    ).all()
    assert [d.status for d in deliveries] == [DeliveryStatus.SENT] * 8
    news, docs = links_of(campaign)[:2]
    later = utcnow() + timedelta(minutes=5)

    def hit(delivery, type_, ua=None, link=None, machine=None, minutes=0):
        payload = {"ua": ua} | ({"machine": machine} if machine else {})
        return {
            "project_id": project.id,
            "type": type_,
            "occurred_at": later + timedelta(minutes=minutes),
            "campaign_id": campaign.id,
            "contact_id": delivery.contact_id,
            "delivery_id": delivery.id,
            "link_id": link.id if link else None,
            "is_machine": bool(machine),
            "payload": payload,
        }

    d = deliveries
    record_events(
        [
            hit(d[0], "open", IPHONE),
            hit(d[0], "open", IPHONE, minutes=70),
            hit(d[1], "open", OUTLOOK),
            hit(d[5], "open", GMAIL),
            hit(d[2], "open", "Mozilla/5.0", machine="apple_mpp"),
            hit(d[0], "click", IPHONE, link=news),
            hit(d[1], "click", OUTLOOK, link=news),
            hit(d[1], "click", OUTLOOK, link=docs, minutes=1),
            hit(d[3], "click", "curl/8", link=docs, machine="scanner"),
            hit(d[7], "bounce_hard") | {"payload": {"enhanced_code": "5.1.1"}},
            hit(d[6], "bounce_soft") | {"payload": {"enhanced_code": "5.2.2"}},
        ]
    )
    return project, campaign, segment, news, docs
