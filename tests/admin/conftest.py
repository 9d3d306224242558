"""Back-office fixtures: log in as a user of a role, and read CSRF tokens from pages."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from mailapp.models import Project, User

TOKEN = re.compile(rb'name="csrf_token"[^>]*value="([^"]+)"')


def login(client: FlaskClient, user: User) -> FlaskClient:
    """Start a server-side session for the user without going through the form."""
    from mailapp.access.audit import Actor
    from mailapp.access.sessions import SESSION_KEY, start_session

    token = start_session(
        user,
        method="password+totp" if user.two_factor_enabled else "password",
        ip="127.0.0.1",
        user_agent="test client",
        actor=Actor(label=user.email, user_id=user.id),
    )
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
        session["_fresh"] = True
        session[SESSION_KEY] = token
    return client


def csrf_token(client: FlaskClient) -> str:
    page = client.get("/account/password")
    return TOKEN.search(page.data).group(1).decode()


@pytest.fixture
def as_user(client):
    def log_in(user: User) -> FlaskClient:
        return login(client, user)

    return log_in


def make_rows(project: Project) -> dict[str, object]:
    """One row of every model a back-office view edits, in the given project."""
    from mailapp.access.apikeys import create_api_key
    from mailapp.extensions import db
    from mailapp.models import (
        AuditLog,
        Campaign,
        List,
        Segment,
        Sender,
        Suppression,
        Template,
        WebhookEndpoint,
    )
    from tests.factories import TEST_ACTOR, make_contact, make_user

    marker = f"{project.slug}-marker"
    rows: dict[str, object] = {
        "contact": make_contact(project, f"{marker}@example.org"),
        "list": List(project_id=project.id, name=f"{marker} list", token=f"{marker}-token"),
        "segment": Segment(project_id=project.id, name=f"{marker} segment", rule={"all": []}),
        "suppression": Suppression(
            project_id=project.id,
            email=f"{marker}@suppressed.example",
            email_hash=f"{marker}-hash",
            reason="manual",
        ),
        "template": Template(project_id=project.id, name=f"{marker} template"),
        "campaign": Campaign(project_id=project.id, name=f"{marker} campaign"),
        "sender": Sender(
            project_id=project.id,
            name=f"{marker} sender",
            from_name="News",
            from_email=f"news@{marker}.example",
            domain=f"{marker}.example",
        ),
        "webhookendpoint": WebhookEndpoint(
            project_id=project.id, url=f"https://{marker}.example/hook", secret="s" * 20
        ),
    }
    for row in rows.values():
        db.session.add(row)
    db.session.commit()
    rows["apikey"], _ = create_api_key(
        project.id, f"{marker} key", ["contacts.read"], actor=TEST_ACTOR
    )
    member = make_user(project, "analyst", email=f"member@{marker}.example")
    rows["membership"] = member.memberships[0]
    rows["project"] = project
    rows.update(_feedback_rows(project, rows["webhookendpoint"].id, marker))
    rows["auditlog"] = db.session.scalar(
        sa.select(AuditLog).where(AuditLog.project_id == project.id).limit(1)
    )
    return rows


def _feedback_rows(project: Project, endpoint_id: int, marker: str) -> dict[str, object]:
    """Rows of the webhook history, ESP endpoint and returned-mail views."""
    from mailapp.extensions import db
    from mailapp.models import (
        EspProvider,
        InboundMessage,
        InboundWebhook,
        ProviderEvent,
        WebhookAttempt,
    )
    from mailapp.models.base import utcnow

    rows: dict[str, object] = {
        "webhookattempt": WebhookAttempt(
            project_id=project.id,
            endpoint_id=endpoint_id,
            event_type="delivered",
            payload={"marker": marker},
        ),
        "inboundwebhook": InboundWebhook(
            project_id=project.id, provider=EspProvider.MAILGUN, token=f"{marker}-hook", secret="k"
        ),
        "inboundmessage": InboundMessage(
            project_id=project.id,
            source="pipe",
            raw=f"Subject: {marker}\r\n\r\nbounce".encode(),
            classification="unknown",
            recipients=f"{marker}@bounced.example",
        ),
        "providerevent": ProviderEvent(
            project_id=project.id,
            provider=EspProvider.POSTMARK,
            provider_event_id=f"{marker}-event",
            received_at=utcnow(),
            raw={"RecordType": "Delivery", "marker": marker},
            normalized_type="delivered",
        ),
    }
    db.session.add_all(rows.values())
    db.session.commit()
    return rows
