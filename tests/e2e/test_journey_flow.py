"""Issue 18 end to end: real web, worker and scheduler processes, an SMTP sink and a clock
all three read from one file. Contacts join a list through the API -> welcome email -> two
days later (the clock moved on) the branch on "opened the welcome" sends each the right
second email; an unsubscribe (one-click POST) between the two steps stops the second; a
posted event starts a journey whose email shows the event's data."""

from __future__ import annotations

import email
import http.client
import json
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from mailapp import clock
from mailapp.access.apikeys import create_api_key
from mailapp.access.permissions import Permission
from mailapp.extensions import db
from mailapp.journeys.journeys import create_journey, publish_journey
from mailapp.models import Contact, Enrollment, EnrollmentStatus, Event, EventType, JourneyCursor
from tests.e2e.conftest import Process, running_stack
from tests.e2e.test_send_pipeline import CountingSink
from tests.factories import HTML, TEST_ACTOR, make_list, make_project, make_sender, make_template
from tests.support.servers import free_port, wait_for_port

pytestmark = [pytest.mark.e2e, pytest.mark.serial]
TWO_DAYS = 2 * 86400
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
OPENER, IGNORER, LEAVER = "opener@example.org", "ignorer@example.org", "leaver@example.org"


@pytest.fixture(scope="module")
def sink():
    sink = CountingSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def web_stack(postgres_server_url, postgres_template, tmp_path_factory):
    """The stack plus gunicorn, all on one clock file; BASE_URL is the web process."""
    port = free_port()
    clock_file = tmp_path_factory.mktemp("clock") / "offset"
    with running_stack(
        postgres_server_url,
        postgres_template,
        tmp_path_factory,
        BASE_URL=f"http://127.0.0.1:{port}",
        MAILAPP_CLOCK_FILE=str(clock_file),
    ) as stack:
        command = [sys.executable, "-m", "gunicorn", "wsgi:app", "--bind", f"127.0.0.1:{port}"]
        command += ["--workers", "1", "--no-control-socket"]
        web = Process("web", command, stack.worker.env, stack.logs / "web.log")
        web.start()
        try:
            wait_for_port(port)
            yield stack, web, f"http://127.0.0.1:{port}", clock_file
        finally:
            web.stop()


def call(method: str, url: str, body: bytes | None = None, **headers: str) -> tuple[int, bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def api(base: str, key: str, path: str, payload: dict) -> dict:
    status, body = call(
        "POST",
        f"{base}/api/v1{path}",
        json.dumps(payload).encode(),
        **{"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert status in (200, 201, 202), body
    return json.loads(body)


def mails(sink) -> list[tuple[str, str, email.message.EmailMessage]]:
    """(recipient, html, message) of everything the sink received."""
    with sink._lock:
        raw = [(m.rcpt_tos[0], m.data) for m in sink.messages]
    found = []
    for rcpt, data in raw:
        message = email.message_from_bytes(data, policy=policy.default)
        found.append((rcpt, message.get_body(("html",)).get_content(), message))
    return found


def got(sink, marker: str) -> dict[str, list]:
    by_rcpt: dict[str, list] = {}
    for rcpt, html, message in mails(sink):
        if marker in html:
            by_rcpt.setdefault(rcpt, []).append((html, message))
    return by_rcpt


def setup_journeys(sink) -> tuple[int, int, str]:
    project = make_project()
    sender = make_sender(project, transport_url=sink.url, rate_per_second=100)

    def mail(marker: str, after: str | None) -> dict:
        template = make_template(project, html=HTML + f"<p>{marker}</p>")
        return {"type": "email", "template_id": template.id, "sender_id": sender.id, "next": after}

    lst = make_list(project)
    steps = {
        "welcome": mail("WELCOME", "pause"),
        "pause": {"type": "wait", "mode": "duration", "minutes": 2 * 24 * 60, "next": "opened"},
        "opened": {
            "type": "condition",
            "rule": {"engagement": {"step": "welcome", "action": "opened"}},
            "yes": "thanks",
            "no": "nudge",
        },
        "thanks": mail("THANKS-FOR-READING", None),
        "nudge": mail("DID-YOU-MISS-IT", None),
    }
    welcome = create_journey(
        project,
        "Welcome",
        actor=TEST_ACTOR,
        trigger={"type": "list_joined", "list_id": lst.id},
        graph={"start": "welcome", "steps": steps},
    )
    publish_journey(project, welcome.id, actor=TEST_ACTOR)
    shipped = mail("Order {{ event.order_id }} is on its way", None)
    orders = create_journey(
        project,
        "Order shipped",
        actor=TEST_ACTOR,
        trigger={"type": "event", "name": "order_shipped"},
        graph={"start": "shipped", "steps": {"shipped": shipped}},
    )
    publish_journey(project, orders.id, actor=TEST_ACTOR)
    scopes = [Permission.CONTACTS_WRITE.value, Permission.EVENTS_WRITE.value]
    _, key = create_api_key(project.id, "e2e", scopes, actor=TEST_ACTOR)
    return lst.id, welcome.id, key


def cursors_started() -> bool:
    keys = set(db.session.scalars(sa.select(JourneyCursor.key)))
    db.session.rollback()
    return {"list_joined", "events"} <= keys


def human_open(address: str):
    def check() -> bool:
        return bool(
            db.session.scalar(
                sa.select(sa.func.count())
                .select_from(Event)
                .join(Contact, Contact.id == Event.contact_id)
                .where(
                    Contact.email == address,
                    Event.type == EventType.OPEN,
                    Event.is_machine.is_(False),
                )
            )
        )

    return check


def advance(clock_file: Path, seconds: float) -> None:
    clock.advance_file(str(clock_file), seconds)
    time.sleep(2 * clock.REREAD_SECONDS)  # every process has read it


def test_welcome_wait_branch_unsubscribe_and_event_data(web_stack, sink):
    stack, web, base, clock_file = web_stack
    with stack.app.app_context():
        list_id, journey_id, key = setup_journeys(sink)
        db.session.remove()
    # A trigger reads what happened after its scan's first tick: let it start first.
    stack.wait_for(cursors_started, timeout=60, every=0.5)
    for address in (OPENER, IGNORER, LEAVER):
        api(base, key, f"/lists/{list_id}/subscribe", {"email": address})
    event = {"name": "order_shipped", "email": IGNORER, "data": {"order_id": "A-1042"}}
    api(base, key, "/events", event)

    stack.wait_for(lambda: len(got(sink, "WELCOME")) == 3, timeout=60, every=0.5)
    welcomes = got(sink, "WELCOME")
    assert {rcpt: len(m) for rcpt, m in welcomes.items()} == dict.fromkeys(
        (OPENER, IGNORER, LEAVER), 1
    )
    # (b) The event's data reached its email.
    stack.wait_for(lambda: IGNORER in got(sink, "is on its way"), timeout=60, every=0.5)
    [(html, _)] = got(sink, "is on its way")[IGNORER]
    assert "Order A-1042 is on its way" in html

    # A minute later (an open within seconds of the send is a machine's prefetch), one
    # contact opens the welcome on the web process; another one-click unsubscribes.
    advance(clock_file, 60)
    [(html, _)] = welcomes[OPENER]
    pixel = re.search(r'src="([^"]*/t/o/[^"]+)"', html).group(1)
    assert call("GET", pixel, **{"User-Agent": BROWSER})[0] == 200
    [(_, message)] = welcomes[LEAVER]
    unsubscribe = re.search(r"<(https?://[^>]+)>", message["List-Unsubscribe"]).group(1)
    status, _ = call(
        "POST",
        unsubscribe,
        b"List-Unsubscribe=One-Click",
        **{"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status in (200, 202, 204)
    # A web process under MAILAPP_ENV=testing ships its tracking spool only when it stops;
    # the worker's drain then adopts it (as after a crash) and records the open.
    web.stop()
    stack.wait_for(human_open(OPENER), timeout=30, every=0.5)
    # Everyone waits for the two days (wake_at on the row), nobody got a second email yet.
    with stack.app.app_context():
        waits = db.session.execute(
            sa.select(Enrollment.status, Enrollment.wake_at).where(
                Enrollment.journey_id == journey_id
            )
        ).all()
        db.session.remove()
    soonest = datetime.now(UTC) + timedelta(days=2) - timedelta(minutes=10)
    assert [status for status, _ in waits] == [EnrollmentStatus.WAITING] * 3
    assert all(wake_at > soonest for _, wake_at in waits)
    assert not got(sink, "THANKS-FOR-READING")
    assert not got(sink, "DID-YOU-MISS-IT")

    # (a) Two days on, the branch sends each the right second email; (c) not the leaver.
    advance(clock_file, TWO_DAYS)
    stack.wait_for(
        lambda: OPENER in got(sink, "THANKS-FOR-READING") and IGNORER in got(sink, "DID-YOU-MISS"),
        timeout=40,
        every=0.5,
    )
    stack.wait_for(lambda: _ended(journey_id) == 3, timeout=30, every=0.5)
    assert set(got(sink, "THANKS-FOR-READING")) == {OPENER}
    assert set(got(sink, "DID-YOU-MISS-IT")) == {IGNORER}
    assert len(got(sink, "THANKS-FOR-READING")[OPENER]) == 1
    with stack.app.app_context():
        left = db.session.execute(
            sa.select(Enrollment.status, Enrollment.exit_reason)
            .join(Contact, Contact.id == Enrollment.contact_id)
            .where(Enrollment.journey_id == journey_id, Contact.email == LEAVER)
        ).one()
        db.session.remove()
    assert left[0] == EnrollmentStatus.EXITED
    assert left[1] in ("unsubscribed", "suppressed")
    assert len(mails(sink)) == 3 + 1 + 2  # welcomes, the order email, two second emails


def _ended(journey_id: int) -> int:
    count = db.session.scalar(
        sa.select(sa.func.count()).where(
            Enrollment.journey_id == journey_id,
            Enrollment.status.in_([EnrollmentStatus.COMPLETED, EnrollmentStatus.EXITED]),
        )
    )
    db.session.rollback()
    return count or 0
