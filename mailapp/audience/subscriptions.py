"""Subscribing to a list: single or double opt-in, with a consent ledger.

A double opt-in membership stays `unconfirmed` until the person follows the signed,
expiring link mailed to them; confirming writes a ConsentRecord. A suppressed address
always needs that fresh confirmation, whatever the list's opt-in, and only the
confirmation lifts its suppression.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

import redis
import sqlalchemy as sa
from flask import current_app

from mailapp import tasks
from mailapp.access.audit import Actor, record_audit
from mailapp.audience.addresses import clean_contact
from mailapp.audience.contact_upserts import bulk_upsert
from mailapp.audience.suppression import is_suppressed, lift
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import (
    ConsentRecord,
    Contact,
    ContactStatus,
    DuplicatePolicy,
    List,
    ListMembership,
    MembershipStatus,
    OptIn,
)
from mailapp.models.base import utcnow
from mailapp.tokens import BadToken, read_token

CONFIRM_PURPOSE = "confirm-subscription"
CONFIRM_MAX_AGE = timedelta(days=7)
SOURCE_PREFIX = "subscribe:"  # the source of contacts a subscription created


@dataclass(frozen=True)
class Subscription:
    contact_id: int
    list_id: int
    status: MembershipStatus
    needs_confirmation: bool


def subscribe(
    project_id: int,
    list_id: int,
    data: dict,
    *,
    actor: Actor,
    source: str,
    ip: str | None = None,
    user_agent: str | None = None,
    form_version: str | None = None,
) -> Subscription:
    """Subscribe an address to a list; mails a confirmation link when one is needed."""
    mailing_list = db.session.scalar(
        sa.select(List).where(List.project_id == project_id, List.id == list_id)
    )
    if mailing_list is None:
        raise NotFound("no such list")
    row = clean_contact(data)
    suppressed = is_suppressed(project_id, row["email"])
    contact = _contact_for(project_id, row, f"{SOURCE_PREFIX}{source}"[:64], suppressed)
    membership = db.session.get(ListMembership, (list_id, contact.id))
    if (
        membership is not None
        and membership.status is MembershipStatus.CONFIRMED
        and not suppressed
    ):
        return Subscription(contact.id, list_id, membership.status, False)
    double = suppressed or mailing_list.opt_in is OptIn.DOUBLE
    now = utcnow()
    if membership is None:
        membership = ListMembership(project_id=project_id, list_id=list_id, contact_id=contact.id)
        db.session.add(membership)
    # created_at is when the pending request was made: expiry counts from the latest one.
    membership.created_at = now
    membership.unsubscribed_at = None
    # The request is evidence too: a double opt-in gets a second record when confirmed.
    confirmed_at = None if double else now
    db.session.add(
        _consent(mailing_list, contact.id, source, form_version, ip, user_agent, confirmed_at)
    )
    if double:
        membership.status, membership.confirmed_at = MembershipStatus.UNCONFIRMED, None
    else:
        membership.status, membership.confirmed_at = MembershipStatus.CONFIRMED, now
    record_audit(
        actor,
        "list.resubscribe_suppressed" if suppressed else "list.subscribe",
        project_id=project_id,
        obj=contact,
        context={"list_id": list_id, "source": source, "double_opt_in": double},
    )
    db.session.commit()
    if double:
        tasks.send_confirmation(list_id, contact.id)
    return Subscription(contact.id, list_id, membership.status, double)


def _contact_for(project_id: int, row: dict, source: str, suppressed: bool) -> Contact:
    """The contact for a subscription; an existing one only gets its empty fields filled."""
    contact = db.session.scalar(
        sa.select(Contact).where(Contact.project_id == project_id, Contact.email == row["email"])
    )
    if contact is not None:
        return contact
    if suppressed:
        # bulk_upsert never writes suppressed addresses; this one is waiting for consent and
        # stays non-active (status from its suppression) until the confirmation arrives.
        contact = Contact(
            project_id=project_id,
            email=row["email"],
            email_raw=row["email_raw"],
            status=ContactStatus.UNSUBSCRIBED,
            first_name=row.get("first_name"),
            last_name=row.get("last_name"),
            attributes=row.get("attributes") or {},
            timezone=row.get("timezone"),
            locale=row.get("locale"),
            source=source,
            is_role_address=row["is_role_address"],
            is_disposable=row["is_disposable"],
            quarantined=row["is_role_address"] or row["is_disposable"],
        )
        db.session.add(contact)
        db.session.flush()
        return contact
    counts = bulk_upsert(project_id, [row], policy=DuplicatePolicy.FILL_EMPTY, source=source)
    return db.session.get(Contact, counts.ids[row["email"]])


def _consent(
    mailing_list: List,
    contact_id: int,
    source: str,
    form_version: str | None,
    ip: str | None,
    user_agent: str | None,
    when,
) -> ConsentRecord:
    return ConsentRecord(
        project_id=mailing_list.project_id,
        contact_id=contact_id,
        list_id=mailing_list.id,
        list_name=mailing_list.name,
        source=source[:64],
        form_version=(form_version or None) and form_version[:32],
        consent_text_version=mailing_list.consent_version,
        ip=ip,
        user_agent=(user_agent or None) and user_agent[:512],
        confirmed_at=when,
    )


def read_confirmation(token: str) -> tuple[int, int]:
    """(list id, contact id) from a confirmation token; ServiceError if bad or expired."""
    try:
        list_id, contact_id = read_token(
            current_app.config["SECRET_KEY"],
            CONFIRM_PURPOSE,
            token,
            count=2,
            max_age=CONFIRM_MAX_AGE.total_seconds(),
        )
    except BadToken as exc:
        reason = "has expired" if str(exc) == "expired" else "is not valid"
        raise ServiceError(f"this confirmation link {reason}; please subscribe again") from None
    return list_id, contact_id


def confirm_subscription(
    token: str, *, ip: str | None = None, user_agent: str | None = None
) -> ListMembership:
    """Confirm a pending subscription and record the consent that came with it."""
    list_id, contact_id = read_confirmation(token)
    membership = db.session.get(ListMembership, (list_id, contact_id))
    if membership is None:
        raise ServiceError("this subscription request has expired; please subscribe again")
    if membership.status is MembershipStatus.CONFIRMED:
        return membership  # a second click changes nothing
    contact = db.session.get(Contact, contact_id)
    mailing_list = db.session.get(List, list_id)
    now = utcnow()
    membership.status, membership.confirmed_at = MembershipStatus.CONFIRMED, now
    request = db.session.scalar(
        sa.select(ConsentRecord)
        .where(
            ConsentRecord.contact_id == contact_id,
            ConsentRecord.list_id == list_id,
            ConsentRecord.confirmed_at.is_(None),
        )
        .order_by(ConsentRecord.id.desc())
        .limit(1)
    )
    source = f"{request.source}:confirmed" if request else "confirmation-link"
    form_version = request.form_version if request else None
    db.session.add(_consent(mailing_list, contact_id, source, form_version, ip, user_agent, now))
    lifted = lift(contact.project_id, contact.email)
    if contact.status is not ContactStatus.ACTIVE and contact.status is not ContactStatus.ERASED:
        contact.status = ContactStatus.ACTIVE
    record_audit(
        Actor(label="subscriber", ip=ip),
        "list.confirm",
        project_id=contact.project_id,
        obj=contact,
        context={"list_id": list_id, "suppression_lifted": bool(lifted)},
    )
    db.session.commit()
    return membership


def expire_unconfirmed(*, now=None) -> int:
    """Remove pending double opt-in requests older than the link's lifetime."""
    cutoff = (now or utcnow()) - CONFIRM_MAX_AGE
    stale = sa.and_(
        ListMembership.status == MembershipStatus.UNCONFIRMED, ListMembership.created_at < cutoff
    )
    contact_ids = sa.select(ListMembership.contact_id).where(stale).scalar_subquery()
    # Contacts that exist only because of a request nobody confirmed go too: nothing else
    # holds their consent, and segments must not find them.
    orphans = list(
        db.session.scalars(
            sa.select(Contact.id).where(
                Contact.id.in_(contact_ids),
                Contact.source.startswith(SOURCE_PREFIX),
                ~sa.exists().where(
                    ListMembership.contact_id == Contact.id,
                    ListMembership.status != MembershipStatus.UNCONFIRMED,
                ),
                ~sa.exists().where(
                    ConsentRecord.contact_id == Contact.id, ConsentRecord.confirmed_at.is_not(None)
                ),
            )
        )
    )
    expired = db.session.execute(sa.delete(ListMembership).where(stale)).rowcount
    removed = db.session.execute(
        sa.delete(Contact).where(
            Contact.id.in_(orphans),
            ~sa.exists().where(ListMembership.contact_id == Contact.id),
        )
    ).rowcount
    record_audit(
        Actor.system("scheduler"),
        "list.expire_unconfirmed",
        project_id=None,
        context={"expired": expired, "contacts_removed": removed},
    )
    db.session.commit()
    return expired


def withdraw_consent(project_id: int, list_id: int, contact_id: int, *, actor: Actor) -> None:
    """Unsubscribe from one list and mark its open consent records withdrawn."""
    membership = db.session.get(ListMembership, (list_id, contact_id))
    if membership is None or membership.project_id != project_id:
        raise NotFound("not subscribed to that list")
    now = utcnow()
    membership.status, membership.unsubscribed_at = MembershipStatus.UNSUBSCRIBED, now
    db.session.execute(
        sa.update(ConsentRecord)
        .where(
            ConsentRecord.project_id == project_id,
            ConsentRecord.contact_id == contact_id,
            ConsentRecord.list_id == list_id,
            ConsentRecord.withdrawn_at.is_(None),
        )
        .values(withdrawn_at=now)
    )
    record_audit(
        actor,
        "list.withdraw",
        project_id=project_id,
        context={"list_id": list_id, "contact": contact_id},
    )
    db.session.commit()


def allow_attempt(client: redis.Redis, scope: str, key: str, limit: int, window: int) -> bool:
    """A fixed-window counter in Redis, shared by every web process."""
    bucket = f"mailapp:rate:{scope}:{key}:{int(time.time()) // window}"
    pipe = client.pipeline()
    pipe.incr(bucket)
    pipe.expire(bucket, window)
    count, _ = pipe.execute()
    return count <= limit
