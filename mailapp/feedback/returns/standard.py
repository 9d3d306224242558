"""Standard reports: RFC 3464 delivery status notifications, RFC 5965 ARF complaints, RFC 3834
auto-replies, and the Report and Recipient shapes every reader of returned mail fills."""

from __future__ import annotations

import email
import email.message
import email.utils
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from mailapp.feedback.returns.codes import (
    BASIC_RE,
    COMPLAINT,
    DELAY,
    ENHANCED_RE,
    HARD,
    HARD_TEXT,
    SOFT,
    SOFT_TEXT,
    UNKNOWN,
    classify,
    enhanced_code,
)

ADDRESS_RE = re.compile(r"[\w.+=!#$%&'*/?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")


AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|abwesenheit"
    r"|vacation|r[ée]ponse automatique|absence)",
    re.IGNORECASE,
)


DAEMON_FROM = re.compile(r"mailer-daemon|postmaster|mail delivery|mmdf|mdaemon", re.IGNORECASE)


@dataclass(frozen=True)
class Recipient:
    """One address a report names, with what happened to it."""

    address: str
    classification: str
    status: str | None = None
    diagnostic: str | None = None
    action: str | None = None
    original: str | None = None


@dataclass(frozen=True)
class Report:
    """What a message returned to us says."""

    classification: str
    recipients: tuple[Recipient, ...] = ()
    # The message we sent, as quoted by the report (headers at least), when there is one.
    original: email.message.Message | None = None
    feedback: dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> str | None:
        return next((r.status for r in self.recipients if r.status), None)

    @property
    def diagnostic(self) -> str | None:
        return next((r.diagnostic for r in self.recipients if r.diagnostic), None)

    def failed(self) -> tuple[Recipient, ...]:
        """Recipients the report says failed (not delayed, not delivered)."""
        return tuple(r for r in self.recipients if r.classification in (HARD, SOFT, UNKNOWN))


def top_parts(msg: email.message.Message) -> Iterator[email.message.Message]:
    """Every MIME part, not descending into attached messages (a quoted report is not ours)."""
    yield msg
    if msg.is_multipart() and msg.get_content_type() != "message/rfc822":
        for part in msg.get_payload():
            if isinstance(part, email.message.Message):
                yield from top_parts(part)


def original_message(msg: email.message.Message) -> email.message.Message | None:
    for part in top_parts(msg):
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                return payload[0]
        if ctype == "text/rfc822-headers":
            return email.message_from_bytes(part.get_payload(decode=True) or b"")
    return None


def _field_blocks(part: email.message.Message) -> list[email.message.Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, email.message.Message)]
    text = part.get_payload(decode=True) or b""
    return [email.message_from_bytes(b) for b in re.split(rb"\r?\n\r?\n", text) if b.strip()]


def _address_field(value: str | None) -> str | None:
    """'rfc822; <a@b>' -> 'a@b'."""
    if not value:
        return None
    value = value.split(";", 1)[-1]
    match = ADDRESS_RE.search(value)
    return match[0] if match else None


def unfold(value: str | None) -> str | None:
    return re.sub(r"\s+", " ", str(value)).strip() if value else None


def parse_dsn(msg: email.message.Message) -> Report | None:
    parts = [
        p
        for p in top_parts(msg)
        if p.get_content_type() in ("message/delivery-status", "message/global-delivery-status")
    ]
    if not parts:
        return None
    recipients = []
    human = own_text(body_text(msg))
    for part in parts:
        for block in _field_blocks(part):
            final = _address_field(block.get("Final-Recipient"))
            original = _address_field(block.get("Original-Recipient"))
            if not (final or original):
                continue
            status = unfold(block.get("Status"))
            diagnostic = unfold(block.get("Diagnostic-Code"))
            action = unfold(block.get("Action"))
            classification = classify(status, f"{status or ''} {diagnostic or ''}", action)
            if classification is None:
                continue
            if classification == UNKNOWN:
                words = diagnostic_in(context_of(human, original or final or ""))
                classification = classify(status, words, action) or UNKNOWN
                diagnostic = diagnostic or words
            recipients.append(
                Recipient(
                    address=original or final or "",
                    classification=classification,
                    status=enhanced_code(status) or status,
                    diagnostic=diagnostic,
                    action=action,
                    original=original,
                )
            )
    if not recipients:
        return None
    return Report(overall_kind(recipients), tuple(recipients), original_message(msg))


def overall_kind(recipients: list[Recipient]) -> str:
    found = {r.classification for r in recipients}
    for classification in (HARD, SOFT, UNKNOWN, DELAY):
        if classification in found:
            return classification
    return UNKNOWN


def parse_arf(msg: email.message.Message) -> Report | None:
    for part in top_parts(msg):
        if part.get_content_type() != "message/feedback-report":
            continue
        fields: dict[str, str] = {}
        for block in _field_blocks(part):
            fields.update({k.lower(): unfold(v) or "" for k, v in block.items()})
        original = original_message(msg)
        if fields.get("feedback-type", "").lower() == "not-spam":
            return Report(UNKNOWN, (), original, fields)
        address = _address_field(fields.get("original-rcpt-to"))
        if address is None and original is not None:
            address = _address_field(original.get("To"))
        recipients = (Recipient(address, COMPLAINT, diagnostic=fields.get("feedback-type")),)
        return Report(COMPLAINT, recipients if address else (), original, fields)
    return None


def is_auto_reply(msg: email.message.Message) -> bool:
    """RFC 3834 and its common predecessors, from a person's mailbox rather than an MTA."""
    if DAEMON_FROM.search(str(msg.get("From", ""))):
        return False
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    return (
        auto.startswith("auto-replied")
        or str(msg.get("Precedence", "")).lower() == "auto_reply"
        or any(msg.get(h) for h in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"))
        or bool(AUTO_REPLY_SUBJECT.match(str(msg.get("Subject", ""))))
    )


def body_text(msg: email.message.Message) -> str:
    """The report's own text parts, without any attached original message."""
    texts = []
    for part in top_parts(msg):
        if part.get_content_maintype() == "text" and part.get_content_type() != (
            "text/rfc822-headers"
        ):
            payload = part.get_payload(decode=True) or b""
            texts.append(payload.decode(part.get_content_charset() or "latin-1", "replace"))
    return "\n".join(texts)


# Where a report's own words end and the quoted original (whose addresses did not fail) begins.
QUOTE_START = re.compile(
    r"^\s*-+.*(original message|copy of the message|header of the original|undelivered message)"
    r"|^.*(original message follows|below this line is a copy|this is a copy of the message)"
    r"|^(received|return-path):",
    re.IGNORECASE | re.MULTILINE,
)


def own_text(text: str) -> str:
    match = QUOTE_START.search(text)
    return text[: match.start()] if match else text


def context_of(text: str, address: str) -> str:
    """The words that follow an address in a report: where its reason is."""
    at = text.lower().find(address.lower())
    return text if at == -1 else text[at : at + 800]


def diagnostic_in(text: str) -> str | None:
    """The SMTP reply or reason a non-standard bounce gives, kept as it is."""
    paragraph = re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip(), maxsplit=1)[0]
    if any(p.search(paragraph) for p in (ENHANCED_RE, BASIC_RE, HARD_TEXT, SOFT_TEXT)):
        return unfold(paragraph)[:1000]
    for pattern in (ENHANCED_RE, BASIC_RE, HARD_TEXT, SOFT_TEXT):
        match = pattern.search(text)
        if match:
            start = text.rfind("\n", 0, match.start()) + 1
            end = text.find("\n", match.end())
            return unfold(text[start : end if end != -1 else None])[:1000]
    return None
