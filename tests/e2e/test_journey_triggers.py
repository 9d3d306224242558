"""Journey triggers with real processes: events stored as the API stores them are found by the
scheduler's trigger scan, and the worker sends each contact its journey email with the event's
data, once."""

from __future__ import annotations

import email
from collections import Counter
from email import policy

import pytest
import sqlalchemy as sa

from mailapp.extensions import db
from mailapp.journeys.journeys import create_journey, publish_journey
from mailapp.journeys.posted_events import record_event
from mailapp.models import Contact, JourneyCursor, Project
from tests.e2e.test_send_pipeline import CountingSink, received
from tests.factories import HTML, TEST_ACTOR, make_list, make_project, make_sender, make_template

pytestmark = [pytest.mark.e2e, pytest.mark.serial]
CONTACTS = 40


@pytest.fixture
def sink():
    sink = CountingSink().start()
    yield sink
    sink.stop()


def test_posted_events_start_the_journey_through_the_scheduler(stack, sink):
    with stack.app.app_context():
        project = make_project()
        sender = make_sender(project, transport_url=sink.url, rate_per_second=100)
        template = make_template(project, html=HTML + "<p>Order {{ event.order_id }}</p>")
        steps = {
            "shipped": {
                "type": "email",
                "template_id": template.id,
                "sender_id": sender.id,
                "next": None,
            }
        }
        journey = create_journey(
            project,
            "Order shipped",
            actor=TEST_ACTOR,
            trigger={"type": "event", "name": "order_shipped"},
            graph={"start": "shipped", "steps": steps},
        )
        publish_journey(project, journey.id, actor=TEST_ACTOR)
        make_list(project, CONTACTS)
        contacts = db.session.execute(
            sa.select(Contact.id, Contact.email).where(Contact.project_id == project.id)
        ).all()
        project = db.session.get(Project, project.id)
        # Before the scan's first tick, an event may land before its cursor exists: wait for it.
        stack.wait_for(lambda: _cursor_started(), timeout=90, every=0.5)
        orders = {}
        for n, (contact_id, address) in enumerate(contacts):
            orders[address] = f"A-{n}"
            for _ in range(2):  # the client retries: same key, nothing new
                record_event(
                    project,
                    "order_shipped",
                    contact_id=contact_id,
                    data={"order_id": f"A-{n}"},
                    idempotency_key=f"ship-{n}",
                )
        db.session.remove()
    stack.wait_for(lambda: len(received(sink)) >= CONTACTS, timeout=150, every=0.5)
    assert Counter(received(sink)) == dict.fromkeys(orders, 1)
    for message in sink.messages:
        parsed = email.message_from_bytes(message.data, policy=policy.default)
        html = parsed.get_body(("html",)).get_content()
        assert f"Order {orders[message.rcpt_tos[0]]}" in html


def _cursor_started() -> bool:
    found = db.session.get(JourneyCursor, "events") is not None
    db.session.rollback()
    return found
