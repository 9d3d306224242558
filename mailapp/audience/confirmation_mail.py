"""The double opt-in confirmation mail: a signed, expiring link sent over SMTP."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, make_msgid
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, render_template

from mailapp.audience.subscriptions import CONFIRM_MAX_AGE, CONFIRM_PURPOSE
from mailapp.extensions import db
from mailapp.mail.transports import open_transport, transport_url_for
from mailapp.models import (
    Contact,
    List,
    ListMembership,
    MembershipStatus,
    Sender,
)
from mailapp.runtime.tracing import traced_send
from mailapp.tokens import make_token


def confirmation_url(list_id: int, contact_id: int) -> str:
    token = make_token(
        current_app.config["SECRET_KEY"], CONFIRM_PURPOSE, list_id, contact_id, timestamped=True
    )
    return f"{current_app.config['BASE_URL']}/subscribe/confirm/{token}"


def send_confirmation(list_id: int, contact_id: int) -> str:
    """Mail the confirmation link (worker side); returns the SMTP outcome."""
    membership = db.session.get(ListMembership, (list_id, contact_id))
    if membership is None or membership.status is not MembershipStatus.UNCONFIRMED:
        return "not-needed"  # confirmed, expired or removed meanwhile
    contact = db.session.get(Contact, contact_id)
    mailing_list = db.session.get(List, list_id)
    sender = db.session.scalar(
        sa.select(Sender).where(Sender.project_id == contact.project_id).order_by(Sender.id)
    )
    host = urlsplit(current_app.config["BASE_URL"]).hostname or "localhost"
    from_email = sender.from_email if sender else f"no-reply@{host}"
    link = confirmation_url(list_id, contact_id)
    message = EmailMessage(policy=SMTP)  # CRLF line ends: smtplib sends bytes as they are
    message["From"] = formataddr((sender.from_name if sender else "", from_email))
    message["To"] = contact.email
    message["Subject"] = f"Please confirm your subscription to {mailing_list.name}"
    message["Message-ID"] = make_msgid(domain=host)
    context = {"list": mailing_list, "link": link, "days": CONFIRM_MAX_AGE.days}
    # quoted-printable keeps every line under SMTP's 998-octet limit, whatever the HTML.
    message.set_content(
        render_template("email/confirm_subscription.txt", **context), cte="quoted-printable"
    )
    message.add_alternative(
        render_template("email/confirm_subscription.html", **context),
        subtype="html",
        cte="quoted-printable",
    )
    transport = open_transport(transport_url_for(sender))
    try:
        result = traced_send(transport, from_email, contact.email, message.as_bytes())
    finally:
        transport.close()
    if result.outcome == "deferred":
        raise ConfirmationDeferred(result.reply)  # the actor retries later
    return f"{result.outcome} ({result.code} {result.reply})"


class ConfirmationDeferred(Exception):
    """The server asked us to try again later."""
