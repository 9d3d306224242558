"""The bulk-sender rules (Gmail and Yahoo, since February 2024), measured per sender.

`sender_compliance(project, sender)` gives one `Line` per rule, green/amber/red with the
measured value in words and what to do when it is not green. DNS lines read the stored
domain check (never DNS itself), the complaint rate reads the DailyStat aggregates of the
sender's campaigns, so the page costs a handful of bounded queries whatever the volume.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa

from mailapp.delivery.dns_checks import worst
from mailapp.delivery.domain_setup import current_results
from mailapp.extensions import db
from mailapp.insights.metrics import metrics_from_counts
from mailapp.mail.transports import transport_url_for
from mailapp.models import (
    Campaign,
    DailyStat,
    Delivery,
    Event,
    EventType,
    ListMembership,
    MembershipStatus,
    Project,
    Sender,
)
from mailapp.models.base import utcnow

STATES = ("green", "amber", "red")
STATE_WORDS = {"green": "Good", "amber": "Check", "red": "Must fix"}
WINDOW_DAYS = 30
MIN_DELIVERED = 100  # below this one complaint swings the rate past every threshold
COMPLAINT_TARGET = 0.001  # Google's "stay under 0.1 %"
COMPLAINT_LIMIT = 0.003  # never reach 0.3 %
HONOUR_DAYS = 2
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
DNS_LABELS = {
    "spf": "SPF passes (our servers may send for the domain)",
    "dkim": "DKIM passes (messages are signed for the domain)",
    "dmarc": "DMARC published and aligned",
}
LEVEL_STATE = {"ok": "green", "warning": "amber", "error": "red"}


@dataclass(frozen=True)
class Line:
    """One rule: its state, the measured value in words, and the fix when not green."""

    key: str
    label: str
    state: str
    value: str
    action: str | None = None

    @property
    def word(self) -> str:
        return STATE_WORDS[self.state]

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


def dns_lines(sender: Sender) -> list[Line]:
    """SPF, DKIM and DMARC from the last stored domain check."""
    current = current_results(sender)
    if current is None:
        return [
            Line(
                key,
                label,
                "amber",
                "Not checked yet, or the domains or key changed since the last check.",
                "Open Domain set-up and press Check now.",
            )
            for key, label in DNS_LABELS.items()
        ]
    checked_at, results = current
    lines = []
    for key, label in DNS_LABELS.items():
        found = [r for r in results if r["check"] == key]
        state = LEVEL_STATE[worst([r["level"] for r in found])] if found else "amber"
        problems = [r["text"] for r in found if r["level"] != "ok"]
        value = " ".join(problems) if problems else f"Passes (checked {checked_at} UTC)."
        action = None if state == "green" else "Publish the record shown on Domain set-up."
        lines.append(Line(key, label, state, value, action))
    return lines


def one_click_line() -> Line:
    """RFC 8058 headers: the composer adds them to every campaign message."""
    return Line(
        "one_click",
        "One-click unsubscribe in every marketing message",
        "green",
        "Every campaign message carries List-Unsubscribe and "
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click; the app adds them itself.",
    )


def _late_unsubscribe_mail(project: Project, sender: Sender, since: date) -> list[float]:
    """Hours between an unsubscribe from one of this sender's campaigns and its first later
    campaign message of the sender to that contact, when they left every list (a contact
    still on another list may get its mail)."""
    # Through the sender's campaigns so the (project, campaign, type, occurred_at) index
    # bounds the event scan; a whole project's 30 days of events would not be.
    campaigns = sa.select(Campaign.id).where(
        Campaign.project_id == project.id, Campaign.sender_id == sender.id
    )
    still_on_a_list = (
        sa.select(ListMembership.contact_id)
        .where(
            ListMembership.project_id == project.id,
            ListMembership.contact_id == Event.contact_id,
            ListMembership.status != MembershipStatus.UNSUBSCRIBED,
        )
        .exists()
    )
    rows = db.session.execute(
        sa.select(Event.occurred_at, sa.func.min(Delivery.sent_at))
        .join(Delivery, Delivery.contact_id == Event.contact_id)
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(
            Event.project_id == project.id,
            Event.campaign_id.in_(campaigns),
            Event.type == EventType.UNSUBSCRIBE,
            Event.occurred_at >= datetime.combine(since, time(), tzinfo=UTC),
            Delivery.project_id == project.id,
            Delivery.sent_at > Event.occurred_at,
            Campaign.sender_id == sender.id,
            ~still_on_a_list,
        )
        .group_by(Event.id, Event.occurred_at)
    ).all()
    return [(sent - left).total_seconds() / 3600 for left, sent in rows]


def honoured_line(project: Project, sender: Sender, since: date) -> Line:
    """Unsubscribes take effect in the request; measured as mail sent after one."""
    late = _late_unsubscribe_mail(project, sender, since)
    label = f"Unsubscribes honoured within {HONOUR_DAYS} days"
    if not late:
        return Line(
            "unsubscribe_honoured",
            label,
            "green",
            "At once: an unsubscribe stops mail in the same request. No message was sent "
            f"to anyone after they unsubscribed in the last {WINDOW_DAYS} days.",
        )
    worst_days = max(late) / 24
    state = "red" if worst_days > HONOUR_DAYS else "amber"
    return Line(
        "unsubscribe_honoured",
        label,
        state,
        f"{len(late)} unsubscribed contact(s) still got mail afterwards in the last "
        f"{WINDOW_DAYS} days; the latest {worst_days:.1f} days after leaving.",
        "Check the audiences of this sender's campaigns (imports re-adding people who left).",
    )


def complaint_counts(project: Project, sender: Sender, since: date) -> dict[str, int]:
    """DailyStat sums per type over the sender's campaigns since `since` (people only)."""
    campaigns = sa.select(Campaign.id).where(
        Campaign.project_id == project.id, Campaign.sender_id == sender.id
    )
    rows = db.session.execute(
        sa.select(DailyStat.type, sa.func.sum(DailyStat.count))
        .where(
            DailyStat.project_id == project.id,
            DailyStat.day >= since,
            DailyStat.campaign_id.in_(campaigns),
            DailyStat.is_machine.is_(False),
            DailyStat.type.in_(
                [EventType.SENT, EventType.BOUNCE_HARD, EventType.BOUNCE_SOFT, EventType.COMPLAINT]
            ),
        )
        .group_by(DailyStat.type)
    ).all()
    return {str(type_): int(total or 0) for type_, total in rows}


def complaint_line(project: Project, sender: Sender, since: date) -> Line:
    """Complaints per delivered message over the window, against 0.1 % and 0.3 %."""
    figures = metrics_from_counts(complaint_counts(project, sender, since))
    delivered, complaints = figures.delivered, figures.complaints
    label = "Spam complaint rate under 0.3 % (target 0.1 %)"
    if delivered < MIN_DELIVERED:
        return Line(
            "complaint_rate",
            label,
            "amber",
            f"Not enough mail to measure: {delivered:,} delivered and {complaints:,} "
            f"complaint(s) in the last {WINDOW_DAYS} days.",
            f"Nothing to do; the rate is shown from {MIN_DELIVERED} delivered messages.",
        )
    rate = complaints / delivered
    value = (
        f"{rate * 100:.2f} % over the last {WINDOW_DAYS} days "
        f"({complaints:,} complaint(s) in {delivered:,} delivered)."
    )
    if rate < COMPLAINT_TARGET:
        return Line("complaint_rate", label, "green", value)
    state = "red" if rate >= COMPLAINT_LIMIT else "amber"
    return Line(
        "complaint_rate",
        label,
        state,
        value,
        "Send only to people who asked for this mail, drop long-inactive contacts and make "
        "the unsubscribe link easy to find.",
    )


def tls_line(sender: Sender) -> Line:
    """How the app talks to its relay: implicit TLS, STARTTLS, or in the clear."""
    label = "TLS to the relay"
    try:
        url = transport_url_for(sender)
    except RuntimeError:
        return Line("tls", label, "amber", "No relay configured.", "Set SMTP_URL.")
    parts = urlsplit(url)
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    host = parts.hostname or ""
    verified = options.get("verify", "1") in ("1", "true", "yes")
    where = f"{host}:{parts.port}" if parts.port else host  # never the credentials
    if parts.scheme == "mailgun+https":
        return Line("tls", label, "green", f"HTTPS to the Mailgun API at {where}.")
    if parts.scheme == "smtps" or options.get("starttls", "0") in ("1", "true", "yes"):
        how = "implicit TLS" if parts.scheme == "smtps" else "STARTTLS"
        if verified:
            return Line("tls", label, "green", f"{how} to {where}, certificate checked.")
        return Line(
            "tls",
            label,
            "amber",
            f"{how} to {where}, but the certificate is not checked (verify=0).",
            "Remove verify=0 from the transport URL once the relay has a valid certificate.",
        )
    if host in LOCAL_HOSTS:
        return Line(
            "tls",
            label,
            "amber",
            f"Plain SMTP to a relay on this machine ({where}); TLS is up to that relay.",
            "Make sure the local relay sends on with TLS.",
        )
    return Line(
        "tls",
        label,
        "red",
        f"Plain SMTP to {where}: mail and password cross the network unencrypted.",
        "Use smtps:// or add ?starttls=1 to the transport URL.",
    )


def sender_compliance(project: Project, sender: Sender) -> list[Line]:
    """Every bulk-sender rule for `sender`, measured."""
    since = utcnow().date() - timedelta(days=WINDOW_DAYS - 1)
    return [
        *dns_lines(sender),
        one_click_line(),
        honoured_line(project, sender, since),
        complaint_line(project, sender, since),
        tls_line(sender),
    ]
