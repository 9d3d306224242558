"""Sending identities and their DKIM keys."""

from __future__ import annotations

import base64

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mailapp.access.audit import Actor, record_audit
from mailapp.access.validation import FieldChecker
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import Project, Sender
from mailapp.models.base import utcnow

DKIM_KEY_BITS = 2048


def get_sender(project: Project, sender_id: int) -> Sender:
    """One of the project's senders, else NotFound."""
    sender = db.session.scalar(
        sa.select(Sender).where(Sender.id == sender_id, Sender.project_id == project.id)
    )
    if sender is None:
        raise NotFound(f"no sender {sender_id}")
    return sender


def generate_dkim_key(bits: int = DKIM_KEY_BITS) -> str:
    """A new RSA private key in PEM (PKCS#8), to be stored encrypted."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def dkim_public_key(private_key_pem: str) -> str:
    """The base64 public key (the p= of the DNS record) of a PEM private key."""
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(public).decode()


def dkim_dns_record(private_key_pem: str) -> str:
    """The TXT record value to publish at <selector>._domainkey.<domain>."""
    return f"v=DKIM1; k=rsa; p={dkim_public_key(private_key_pem)}"


def dkim_record_name(sender: Sender) -> str:
    """Where the DKIM record of a sender's current selector is published."""
    return f"{sender.dkim_selector}._domainkey.{sender.domain}"


def dkim_txt_strings(record: str) -> list[str]:
    """The record cut into the 255-character strings one TXT record is made of."""
    return [record[i : i + 255] for i in range(0, len(record), 255)]


def generate_sender_key(project: Project, sender_id: int, *, actor: Actor) -> Sender:
    """Give a sender a new RSA-2048 key under a new, dated selector.

    The old selector's DNS record can stay published while mail signed with it is in
    flight; the new one must be published before sending (pre-flight shows the record).
    """
    sender = get_sender(project, sender_id)
    selector = f"m{utcnow():%Y%m%d%H%M%S}"
    if selector == sender.dkim_selector:
        raise ServiceError("a key was generated this second already")
    previous = sender.dkim_selector
    sender.dkim_private_key = generate_dkim_key()
    sender.dkim_selector = selector
    record_audit(
        actor,
        "sender.dkim_generate",
        project_id=project.id,
        obj=sender,
        context={"selector": selector, "previous_selector": previous, "bits": DKIM_KEY_BITS},
    )
    db.session.commit()
    return sender


WARMUP_HELP = (
    "A new sending domain earns its reputation slowly: from the start date, day 1 may send "
    "the first number, day 2 the second, and so on; after the last day only the sender's own "
    "daily limit applies. Empty: no warm-up."
)
SUGGESTED_WARMUP = (50, 100, 200, 400, 800, 1500, 3000, 6000, 12000, 25000, 50000, 100000)
MAX_WARMUP_DAYS = 120


def set_warmup_plan(
    project: Project, sender_id: int, *, start: object, daily_caps: object, actor: Actor
) -> Sender:
    """Validate and save a sender's warm-up plan (start date, one cap per day), audited.

    `daily_caps` is a list of numbers or a text of numbers separated by commas or spaces;
    empty caps remove the plan.
    """
    sender = get_sender(project, sender_id)
    check = FieldChecker()
    raw_caps = daily_caps.replace(",", " ").split() if isinstance(daily_caps, str) else daily_caps
    if raw_caps is None:
        raw_caps = []
    if not isinstance(raw_caps, list | tuple):
        check.fail("daily_caps", "a list of daily caps, e.g. 50, 100, 200")
        raw_caps = []
    caps = [check.integer("daily_caps", c, 1, 10_000_000, optional=False) for c in raw_caps]
    if len(caps) > MAX_WARMUP_DAYS:
        check.fail("daily_caps", f"at most {MAX_WARMUP_DAYS} days, not {len(caps)}")
    plan: dict = {}
    if caps:
        day = check.day("start", start) if start not in (None, "") else None
        if day is None:
            check.fail("start", "give the first day of the warm-up as YYYY-MM-DD")
        check.raise_if_any()
        plan = {"start": day.isoformat(), "daily_caps": caps}
    check.raise_if_any()
    old = sender.warmup_plan or {}
    if plan != old:
        sender.warmup_plan = plan
        record_audit(
            actor,
            "sender.warmup",
            project_id=project.id,
            obj=sender,
            context={"changes": {"warmup_plan": {"old": old or None, "new": plan or None}}},
        )
    db.session.commit()
    return sender
