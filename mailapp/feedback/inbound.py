"""Mail returned to us: bounces, complaints, auto-replies and mailto unsubscribes.

`ingest_message` keeps each message raw (`InboundMessage`) with the classification it got,
maps it to the mail it is about (the VERP address in To/Delivered-To/X-Original-To or the
envelope recipient, else the quoted Message-ID, else an address only one project knows) and
applies the feedback policy. Sources: the MTA pipe, a Maildir/mbox, a polled mailbox.
"""

from __future__ import annotations

import email.message
import email.utils
import re
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from mailapp.access.audit import Actor, record_audit
from mailapp.audience.suppression import normalize_address
from mailapp.extensions import db
from mailapp.feedback.mail_targets import Target, find_target, target_for
from mailapp.feedback.policy import EVENT_FOR, apply_feedback
from mailapp.feedback.returns import bounces
from mailapp.feedback.returns.codes import NOT_MAIL
from mailapp.models import Contact, InboundMessage
from mailapp.tokens import BadToken
from mailapp.urls import VERP_RE, read_single, read_verp

UNSUBSCRIBE_ADDRESS_RE = re.compile(r"^unsubscribe(?:\+(?P<token>[a-z0-9-]+))?@", re.IGNORECASE)
# A reply to the mailto address may carry the token in its subject or body instead.
UNSUBSCRIBE_TOKEN_RE = re.compile(
    r"(?:unsubscribe\+|/u/)(?P<token>[a-z0-9]+(?:-[a-z0-9]+)+)", re.IGNORECASE
)
UNSUBSCRIBE_SUBJECT_RE = re.compile(r"^\s*unsubscribe\s*$", re.IGNORECASE)
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")


def ingest_message(
    raw: bytes, *, source: str, actor: Actor, envelope_recipient: str | None = None
) -> InboundMessage:
    """Keep one message returned to us, classify it, and apply the policy to its mail.

    Never fails on what the message holds: input that is not mail at all (a JSON body piped
    by mistake, binary junk) is kept as `not_mail` for an operator to look at.
    """
    msg = bounces.parse_message(raw)
    if not bounces.is_mail(msg):
        return _keep(InboundMessage(source=source, raw=raw, classification=NOT_MAIL), actor)
    secret = current_app.config["SECRET_KEY"]
    addresses = _recipient_addresses(msg, envelope_recipient)
    unsubscribe = _unsubscribe_target(secret, msg, addresses)
    if unsubscribe is not None:
        report = bounces.Report("unsubscribe")
        target: Target | None = unsubscribe
    else:
        report = bounces.parse_report(msg)
        target = _bounce_target(secret, report, addresses)
        if (
            report.classification in (bounces.UNKNOWN, bounces.AUTO_REPLY)
            and not report.failed()
            and UNSUBSCRIBE_SUBJECT_RE.match(str(msg.get("Subject", "")))
        ):
            # List-Unsubscribe: <mailto:bounces+<token>@...?subject=unsubscribe>
            report = bounces.Report("unsubscribe")
    first = _recipient_for(report, target)
    # The verdict on the delivery's own address, not the worst of everyone the report names.
    kind = first.classification if first is not None and report.failed() else report.classification
    reason = (first.reason if first is not None else None) or report.reason
    inbound = InboundMessage(
        project_id=target.project_id if target else None,
        source=source,
        raw=raw,
        classification=kind,
        reason=reason if kind in (bounces.HARD, bounces.SOFT, bounces.UNKNOWN) else None,
        status_code=(first.status or "")[:16] or None if first else None,
        diagnostic=first.diagnostic if first else None,
        recipients=", ".join(r.address for r in report.recipients) or None,
        delivery_id=target.delivery_id if target else None,
    )
    outcome = "kept"
    if target is None or kind not in EVENT_FOR:
        return _keep(inbound, actor, outcome)
    db.session.add(inbound)
    db.session.flush()
    payload = {
        "source": source,
        "inbound_message_id": inbound.id,
        "status": first.status if first else None,
        "diagnostic": first.diagnostic if first else None,
        "reported_address": first.address if first else None,
        "bounce_reason": inbound.reason,
    }
    if report.feedback:
        payload["feedback_type"] = report.feedback.get("feedback-type")
        payload["user_agent"] = report.feedback.get("user-agent")
    outcome = apply_feedback(
        target, kind, actor=actor, payload=payload, source=f"inbound:{inbound.id}"
    )
    return _keep(inbound, actor, outcome)


def _keep(inbound: InboundMessage, actor: Actor, outcome: str = "kept") -> InboundMessage:
    """Store the message with what was done about it, audited, in one transaction."""
    db.session.add(inbound)
    db.session.flush()
    record_audit(
        actor,
        "feedback.ingest",
        project_id=inbound.project_id,
        obj=inbound,
        context={
            "source": inbound.source,
            "classification": inbound.classification,
            "reason": inbound.reason,
            "outcome": outcome,
        },
    )
    db.session.commit()
    return inbound


def _recipient_for(report: bounces.Report, target: Target | None) -> bounces.Recipient | None:
    """The recipient the report says most about the target's address (else the first)."""
    failed = report.failed() or report.recipients
    if target is not None and target.address:
        wanted = normalize_address(target.address)
        for recipient in failed:
            if wanted in (normalize_address(a) for a in (recipient.address, recipient.final) if a):
                return recipient
    return failed[0] if failed else None


@dataclass(frozen=True)
class StrayDiagnosis:
    """What a returned message that named no project says, re-read from its raw bytes."""

    headers: list[tuple[str, str]]  # From, To, Subject, Date ... as received
    recipients: tuple[bounces.Recipient, ...]  # every address the report names
    verp: list[tuple[str, str]]  # (VERP-shaped address, what it maps to)
    original_message_id: str | None
    reason: str


SHOWN_HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted")


def diagnose_stray(inbound: InboundMessage) -> StrayDiagnosis:
    """Why a returned message mapped to no delivery: its VERP addresses, ids and recipients.

    Only for messages without a project (strays): the back office shows this to operators.
    """
    secret = current_app.config["SECRET_KEY"]
    msg = bounces.parse_message(inbound.raw)
    report = bounces.parse_report(msg)
    candidates = _recipient_addresses(msg, None)
    if report.original is not None:
        candidates.append(str(report.original.get("Return-Path", "")).strip().strip("<>"))
    if report.feedback.get("original-mail-from"):
        candidates.append(report.feedback["original-mail-from"].strip().strip("<>"))
    verp = []
    for address in dict.fromkeys(a for a in candidates if VERP_RE.match(a)):
        found = read_verp(secret, address)
        if found is None:
            verp.append(
                (address, "token does not verify: forged, damaged or another installation's")
            )
        elif target_for(*found) is None:
            verp.append((address, f"names {found[0]} {found[1]}, which no longer exists"))
        else:
            verp.append((address, f"names {found[0]} {found[1]} (it maps now)"))
    original_id = (
        str(report.original["Message-ID"])
        if report.original is not None and report.original.get("Message-ID")
        else None
    )
    if verp:
        reason = "a VERP address is present but names no mail of ours"
    elif report.original is None:
        reason = "no VERP address and no copy of the original message to identify it"
    elif original_id:
        reason = "no VERP address; the original Message-ID is not one of ours"
    else:
        reason = "no VERP address and the returned copy carries no Message-ID"
    failed = report.failed() or report.recipients
    if not verp and len(failed) == 1:
        reason += "; its address is known to no project or to several"
    return StrayDiagnosis(
        headers=[(name, str(msg[name])) for name in SHOWN_HEADERS if msg.get(name) is not None],
        recipients=report.recipients,
        verp=verp,
        original_message_id=original_id,
        reason=reason,
    )


def _recipient_addresses(msg: email.message.Message, envelope: str | None) -> list[str]:
    values = [envelope] if envelope else []
    for header in RECIPIENT_HEADERS:
        values.extend(str(v) for v in msg.get_all(header, []))
    return [address for _, address in email.utils.getaddresses(values) if address]


def _unsubscribe_target(
    secret: str, msg: email.message.Message, addresses: list[str]
) -> Target | None:
    matches = [m for a in addresses if (m := UNSUBSCRIBE_ADDRESS_RE.match(a))]
    if not matches:
        return None
    # The token in the address decides; one in the subject or body is the fallback for
    # clients that write to the bare unsubscribe@ address.
    tokens = [m["token"] for m in matches if m["token"]]
    text = f"{msg.get('Subject', '')}\n{bounces.body_text(msg)[:20000]}"
    tokens += [m["token"] for m in UNSUBSCRIBE_TOKEN_RE.finditer(text)]
    for token in tokens:
        for kind in ("delivery", "message"):
            try:
                item_id = read_single(secret, "unsubscribe", token, kind)
            except BadToken:
                continue
            return target_for(kind, item_id)
    return None


def _bounce_target(secret: str, report: bounces.Report, addresses: list[str]) -> Target | None:
    original = report.original
    candidates = list(addresses)
    if original is not None:
        candidates += [str(original.get("Return-Path", ""))]
    if report.feedback.get("original-mail-from"):
        candidates.append(report.feedback["original-mail-from"])
    for candidate in candidates:
        found = read_verp(secret, candidate.strip().strip("<>"))
        if found is not None:
            target = target_for(*found)
            if target is not None:
                return target
    if original is not None and original.get("Message-ID"):
        found = find_target(message_id_header=str(original["Message-ID"]))
        if found is not None:
            return found
    failed = report.failed() or report.recipients
    if len(failed) != 1:
        return None
    # An address alone decides only when a single project knows it.
    projects = db.session.scalars(
        sa.select(Contact.project_id)
        .where(Contact.email == normalize_address(failed[0].address))
        .limit(2)
    ).all()
    return (
        find_target(project_id=projects[0], address=failed[0].address)
        if len(projects) == 1
        else None
    )
