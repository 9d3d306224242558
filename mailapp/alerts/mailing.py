"""Mailing an alert to the project's owners through the project's own transport.

Never twice: the alert is claimed (`pending -> sending`) and committed before anything goes to
the transport, so a redelivered message or a second worker finds nothing to do. A server
asking to try later (4xx for every recipient) puts it back to `pending`; the periodic check
asks again. A crash after the claim leaves it `sending`: shown as such, never resent.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, make_msgid
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app

from mailapp.alerts.settings import KIND_LABELS, alert_settings
from mailapp.extensions import db
from mailapp.mail.transports import open_transport, transport_url_for
from mailapp.models import (
    Alert,
    AlertMailState,
    Membership,
    Project,
    Role,
    Sender,
    User,
)
from mailapp.models.base import utcnow


def alert_recipients(project: Project) -> list[str]:
    """The project's active owners, then the extra addresses its settings name."""
    owners = db.session.scalars(
        sa.select(User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.project_id == project.id,
            Membership.role == Role.OWNER,
            User.active.is_(True),
        )
        .order_by(User.id)
    ).all()
    found = [e.lower() for e in owners]
    return found + [e for e in alert_settings(project)["recipients"] if e not in found]


def _claim(alert_id: int) -> Alert | None:
    claimed = db.session.execute(
        sa.update(Alert)
        .where(Alert.id == alert_id, Alert.mail_state == AlertMailState.PENDING)
        .values(mail_state=AlertMailState.SENDING)
    ).rowcount
    db.session.commit()
    return db.session.get(Alert, alert_id) if claimed else None


def deliver_alert(alert_id: int) -> str:
    """Mail one alert to its recipients (worker side); returns what happened."""
    alert = _claim(alert_id)
    if alert is None:
        return "not-needed"  # mailed, being mailed, or gone
    project = db.session.get(Project, alert.project_id)
    recipients = alert_recipients(project)
    if not recipients:
        return _finish(alert, AlertMailState.NO_RECIPIENTS, "the project has no owner to tell")
    # The project's first sender is its default identity, as for confirmation mail.
    sender = db.session.scalar(
        sa.select(Sender).where(Sender.project_id == project.id).order_by(Sender.id)
    )
    try:
        url = transport_url_for(sender)
    except RuntimeError:
        return _finish(
            alert,
            AlertMailState.FAILED,
            "no way to send: the project has no sender and no SMTP server is configured",
        )
    host = urlsplit(current_app.config["BASE_URL"]).hostname or "localhost"
    from_email = sender.from_email if sender else f"no-reply@{host}"
    outcomes: dict[str, list[str]] = {"sent": [], "deferred": [], "failed": []}
    transport = open_transport(url)
    try:
        for address in recipients:
            data = _message(alert, project, from_email, sender, address, host)
            try:
                result = transport.send(from_email, address, data)
            except OSError as exc:  # the transport could not even connect
                outcomes["deferred"].append(f"{address}: {type(exc).__name__}")
                continue
            bucket = (
                "sent"
                if result.outcome == "sent"
                else ("deferred" if result.outcome == "deferred" else "failed")
            )
            outcomes[bucket].append(address if bucket == "sent" else f"{address}: {result.reply}")
    finally:
        transport.close()
    return _record(alert, outcomes)


def _record(alert: Alert, outcomes: dict[str, list[str]]) -> str:
    sent, deferred, failed = outcomes["sent"], outcomes["deferred"], outcomes["failed"]
    if deferred and not sent and not failed:
        # Nobody has it: safe to try again later.
        alert.mail_state = AlertMailState.PENDING
        alert.mail_detail = "the mail server asked to try later: " + "; ".join(deferred)
        db.session.commit()
        return "deferred"
    parts = []
    if sent:
        parts.append(f"sent to {', '.join(sent)}")
    if failed or deferred:
        parts.append("not delivered: " + "; ".join(failed + deferred))
    state = AlertMailState.SENT if sent else AlertMailState.FAILED
    return _finish(alert, state, ". ".join(parts))


def _finish(alert: Alert, state: AlertMailState, detail: str) -> str:
    alert.mail_state, alert.mail_detail = state, detail[:2000]
    if state == AlertMailState.SENT:
        alert.mailed_at = utcnow()
    db.session.commit()
    return state.value


def _message(
    alert: Alert, project: Project, from_email: str, sender: Sender | None, to: str, host: str
) -> bytes:
    link = current_app.config["BASE_URL"] + alert.link
    message = EmailMessage(policy=SMTP)  # CRLF line ends: smtplib sends bytes as they are
    message["From"] = formataddr((sender.from_name if sender else "mailapp", from_email))
    message["To"] = to
    message["Subject"] = f"[{project.name}] {KIND_LABELS[alert.kind]}"
    message["Message-ID"] = make_msgid(domain=host)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to alerts
    message["X-Mailapp-Alert"] = str(alert.id)
    body = (
        f"{alert.text}\n\nWhat to do: {link}\n\n"
        f"This alert is for the project {project.name!r}. Which alerts you get, their "
        f"thresholds and who receives them are set on the Alerts page: "
        f"{current_app.config['BASE_URL']}/admin/alerts/\n"
    )
    message.set_content(body, cte="quoted-printable")
    return message.as_bytes()
