"""Setting up senders from the API: the back-office form's fields, each checked, audited.

The DKIM private key and the transport URL are write-only: they are stored encrypted and
no answer ever carries them back, only whether one is set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from email_validator import EmailNotValidError, validate_email

from mailapp.access.audit import Actor, record_audit
from mailapp.access.records import changed_fields
from mailapp.access.validation import FieldChecker
from mailapp.delivery.senders import get_sender
from mailapp.errors import ServiceError
from mailapp.extensions import db
from mailapp.mail.transports import open_transport
from mailapp.models import Campaign, CampaignStatus, Project, Sender

HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
SELECTOR = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
TEXT_FIELDS = {"name": 200, "from_name": 200}
RATES = ("rate_per_second", "rate_per_hour", "rate_per_day")
SECRETS = ("dkim_private_key", "transport_url")
DOMAINS = ("domain", "bounce_domain", "tracking_domain")
FIELDS = (*TEXT_FIELDS, "from_email", "reply_to", *DOMAINS, "dkim_selector")
FIELDS += RATES + SECRETS
OPEN = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.SENDING)
OPEN += (CampaignStatus.PAUSED,)


def project_senders(project: Project) -> list[Sender]:
    return list(
        db.session.scalars(
            sa.select(Sender).where(Sender.project_id == project.id).order_by(Sender.id)
        )
    )


def create_sender(project: Project, values: Mapping[str, Any], *, actor: Actor) -> Sender:
    """A new sender from checked values; `domain` defaults to the From address's domain."""
    sender = Sender(project_id=project.id, verification={}, warmup_plan={})
    _apply(sender, values, creating=True)
    db.session.add(sender)
    db.session.flush()
    record_audit(
        actor,
        "sender.create",
        project_id=project.id,
        obj=sender,
        context={"fields": changed_fields(sender)},
    )
    db.session.commit()
    return sender


def update_sender(
    project: Project, sender_id: int, values: Mapping[str, Any], *, actor: Actor
) -> Sender:
    """Change the given fields of a sender (null clears an optional one); audited by name."""
    sender = get_sender(project, sender_id)
    _apply(sender, values, creating=False)
    changed = changed_fields(sender)
    if changed:
        record_audit(
            actor, "sender.update", project_id=project.id, obj=sender, context={"changed": changed}
        )
    db.session.commit()
    return sender


def delete_sender(project: Project, sender_id: int, *, actor: Actor) -> None:
    """Remove a sender no open campaign uses (sent mail keeps its history)."""
    sender = get_sender(project, sender_id)
    in_use = db.session.scalars(
        sa.select(Campaign.name).where(
            Campaign.project_id == project.id,
            Campaign.sender_id == sender.id,
            Campaign.status.in_(OPEN),
        )
    ).all()
    if in_use:
        raise ServiceError(
            f"{sender.from_email} sends {len(in_use)} open campaign(s) ({', '.join(in_use[:3])}): "
            "give them another sender or end them first"
        )
    record_audit(actor, "sender.delete", project_id=project.id, obj=sender)
    db.session.delete(sender)
    db.session.commit()


def _apply(sender: Sender, values: Mapping[str, Any], *, creating: bool) -> None:
    """Check every given field (all problems named at once) and set them on the sender."""
    check = FieldChecker()
    unknown = sorted(set(values) - set(FIELDS))
    for name in unknown:
        check.fail(name, "not a field of a sender")
    if creating:
        for name in ("name", "from_name", "from_email"):
            if not values.get(name):
                check.fail(name, "required")
    parsed: dict[str, Any] = {}
    for name, limit in TEXT_FIELDS.items():
        if name in values:
            text = (values[name] or "").strip()
            if not text:
                check.fail(name, "required")
            elif len(text) > limit:
                check.fail(name, f"at most {limit} characters")
            parsed[name] = text
    for name in ("from_email", "reply_to"):
        if name in values:
            parsed[name] = _address(check, name, values[name], optional=name == "reply_to")
    for name in DOMAINS:
        if name in values:
            parsed[name] = _hostname(check, name, values[name])
    if "dkim_selector" in values:
        parsed["dkim_selector"] = _selector(check, values["dkim_selector"])
    for name in RATES:
        if name in values:
            parsed[name] = check.integer(name, values[name], 1, 10_000_000, optional=True)
    if values.get("dkim_private_key"):
        parsed["dkim_private_key"] = _private_key(check, values["dkim_private_key"])
    if "transport_url" in values:
        parsed["transport_url"] = _transport(check, values["transport_url"])
    if creating and not parsed.get("domain") and parsed.get("from_email"):
        parsed["domain"] = parsed["from_email"].rpartition("@")[2]
    selector = parsed["dkim_selector"] if "dkim_selector" in values else sender.dkim_selector
    if parsed.get("dkim_private_key") and not selector:
        check.fail("dkim_selector", "required with a DKIM key: the name its DNS record is under")
    if "domain" in values and parsed.get("domain") is None:
        check.fail("domain", "the domain mail is sent from, e.g. example.com")
    domain = parsed.get("domain") or sender.domain
    if parsed.get("tracking_domain") and parsed["tracking_domain"] == domain:
        check.fail("tracking_domain", tracking_at_apex(domain))
    check.raise_if_any()
    for name, value in parsed.items():
        setattr(sender, name, value)


def tracking_at_apex(domain: str) -> str:
    """Why the tracking domain cannot be the sending domain itself."""
    return f"a CNAME cannot sit at {domain} itself: use a host name under it, e.g. links.{domain}"


def _address(check: FieldChecker, name: str, raw: Any, *, optional: bool) -> str | None:
    if raw in (None, "") and optional:
        return None
    try:
        return validate_email(str(raw), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        check.fail(name, f"not an email address: {exc}")
        return None


def _hostname(check: FieldChecker, name: str, raw: Any) -> str | None:
    if raw in (None, ""):
        return None
    host = str(raw).strip().lower().rstrip(".")
    if not HOSTNAME.match(host):
        check.fail(name, f"not a domain name: {raw!r}")
        return None
    return host


def _selector(check: FieldChecker, raw: Any) -> str | None:
    if raw in (None, ""):
        return None
    selector = str(raw).strip().lower()
    if not SELECTOR.match(selector):
        check.fail("dkim_selector", "letters, digits and hyphens, e.g. m2026")
        return None
    return selector


def _private_key(check: FieldChecker, raw: Any) -> str | None:
    try:
        serialization.load_pem_private_key(str(raw).strip().encode(), password=None)
    except (ValueError, TypeError):
        check.fail("dkim_private_key", "not an unencrypted PEM private key")
        return None
    return str(raw).strip() + "\n"


def _transport(check: FieldChecker, raw: Any) -> str | None:
    if raw in (None, ""):
        return None
    try:
        open_transport(str(raw))
    except ValueError:
        check.fail("transport_url", "smtp://user:password@host:587?starttls=1 or smtps://...")
        return None
    return str(raw)
