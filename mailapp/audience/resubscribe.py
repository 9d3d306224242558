"""Resubscribing a contact for support staff: only with the person's consent written down."""

from __future__ import annotations

import sqlalchemy as sa

from mailapp.access.audit import Actor
from mailapp.audience.subscriptions import Subscription, subscribe
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import Contact, ContactStatus

CONSENT_MAX = 64  # ConsentRecord.source
SUPPORT_FORM = "support desk"


def resubscribe_contact(
    project_id: int,
    list_id: int,
    contact_id: int,
    *,
    consent: str,
    actor: Actor,
) -> Subscription:
    """Put a contact back on a list for support, only with the consent they gave written down.

    The consent text becomes the ConsentRecord's source. The usual rules then apply: a
    double opt-in list or a suppressed address gets a confirmation mail first.
    """
    consent = " ".join((consent or "").split())
    if not consent:
        raise ServiceError(
            "consent: say how the person gave consent (e.g. 'asked by phone on 2 Dec')"
        )
    if len(consent) > CONSENT_MAX:
        raise ServiceError(f"consent: at most {CONSENT_MAX} characters ({len(consent)} given)")
    contact = db.session.scalar(
        sa.select(Contact).where(Contact.project_id == project_id, Contact.id == contact_id)
    )
    if contact is None:
        raise NotFound("no such contact")
    if contact.status is ContactStatus.ERASED:
        raise ServiceError("this contact was erased (GDPR); it cannot be subscribed again")
    return subscribe(
        project_id,
        list_id,
        {"email": contact.email},
        actor=actor,
        source=consent,
        ip=actor.ip,
        form_version=SUPPORT_FORM,
    )
