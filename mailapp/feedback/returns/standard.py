"""Standard reports: RFC 3464 delivery status notifications, RFC 5965 ARF complaints, RFC 3834
auto-replies, and the Report and Recipient shapes every reader of returned mail fills."""

from __future__ import annotations

import email
import email.message
import email.utils
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from mailapp.feedback.returns.codes import (
    COMPLAINT,
    DELAY,
    HARD,
    SOFT,
    UNKNOWN,
    Verdict,
    enhanced_code,
    judge,
)
from mailapp.feedback.returns.text import (
    body_text,
    context_of,
    diagnostic_in,
    own_text,
    top_parts,
    unfold,
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
    reason: str | None = None  # a BounceReason value
    final: str | None = None  # the DSN's Final-Recipient, where it differs


@dataclass(frozen=True)
class Report:
    """What a message returned to us says."""

    classification: str
    recipients: tuple[Recipient, ...] = ()
    # The message we sent, as quoted by the report (headers at least), when there is one.
    original: email.message.Message | None = None
    feedback: dict[str, str] = field(default_factory=dict)
    # The reason when no recipient carries one (a report that named no address).
    reason: str | None = None

    @property
    def main_reason(self) -> str | None:
        """The reason of the first failed recipient, or of the report as a whole."""
        return next((r.reason for r in self.failed() if r.reason), self.reason)

    @property
    def status(self) -> str | None:
        return next((r.status for r in self.recipients if r.status), None)

    @property
    def diagnostic(self) -> str | None:
        return next((r.diagnostic for r in self.recipients if r.diagnostic), None)

    def failed(self) -> tuple[Recipient, ...]:
        """Recipients the report says failed (not delayed, not delivered)."""
        return tuple(r for r in self.recipients if r.classification in (HARD, SOFT, UNKNOWN))


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
        blocks = [p for p in payload if isinstance(p, email.message.Message)]
    else:
        text = part.get_payload(decode=True) or b""
        blocks = [email.message_from_bytes(b) for b in re.split(rb"\r?\n\r?\n", text) if b.strip()]
    out = []
    for block in blocks:
        if len(block.get_all("Final-Recipient", [])) > 1:
            # Recipients not parted by a blank line (AOL): one group per recipient.
            out += split_fields([f"{k}: {v}" for k, v in block.items()])
        else:
            out.append(block)
    return out


def split_fields(lines: list[str]) -> list[email.message.Message]:
    """DSN field lines grouped per recipient: a new group at each repeated recipient field."""
    groups: list[list[str]] = []
    for line in lines:
        name = line.split(":", 1)[0].strip().lower()
        names = {x.split(":", 1)[0].strip().lower() for x in groups[-1]} if groups else set()
        if (
            not groups
            or (name == "final-recipient" and "final-recipient" in names)
            or (name == "original-recipient" and names & {"final-recipient", "original-recipient"})
        ):
            groups.append([])
        groups[-1].append(unfold(line) or "")
    return [email.message_from_string("\n".join(g) + "\n\n") for g in groups]


def _address_field(value: str | None) -> str | None:
    """'rfc822; <a@b>' -> 'a@b'."""
    if not value:
        return None
    value = value.split(";", 1)[-1]
    match = ADDRESS_RE.search(value)
    return match[0] if match else None


def parse_dsn(msg: email.message.Message) -> Report | None:
    """The recipients of an RFC 3464 report (or of DSN fields quoted in its text)."""
    blocks = [
        block
        for p in top_parts(msg)
        if p.get_content_type() in ("message/delivery-status", "message/global-delivery-status")
        for block in _field_blocks(p)
    ]
    human = own_text(body_text(msg))
    if not blocks:
        blocks = dsn_blocks_in_text(human)
    named = [
        a
        for b in blocks
        for f in ("Final-Recipient", "Original-Recipient")
        if (a := _address_field(b.get(f)))
    ]
    recipients = [r for block in blocks if (r := dsn_recipient(block, human, named)) is not None]
    if not recipients:
        return None
    return Report(overall_kind(recipients), tuple(recipients), original_message(msg))


def dsn_recipient(
    block: email.message.Message, human: str, named: Iterable[str] = ()
) -> Recipient | None:
    """One per-recipient block of DSN fields; None for a delivered one or a non-recipient."""
    final = _address_field(block.get("Final-Recipient"))
    original = _address_field(block.get("Original-Recipient"))
    if not (final or original):
        return None
    status = unfold(block.get("Status"))
    diagnostic = unfold(block.get("Diagnostic-Code"))
    action = unfold(block.get("Action"))
    address = original or final or ""
    verdict = judge(status, diagnostic, action)
    if verdict is None:
        return None
    if verdict.reason in (None, "other") or not diagnostic:
        # The report's own words about the address say what the fields do not.
        words = diagnostic_in(context_of(human, address, named)) or diagnostic_in(
            context_of(human, final or address, named)
        )
        better = judge(status, f"{diagnostic or ''} {words or ''}", action)
        if better is not None and better.reason not in (None, "other"):
            verdict: Verdict = better
            diagnostic = diagnostic or words
    return Recipient(
        address=address,
        classification=verdict.classification,
        # The remote server's own code (in its reply) over the reporting MTA's summary.
        status=enhanced_code(diagnostic) or enhanced_code(status) or status,
        diagnostic=diagnostic,
        action=action,
        original=original,
        reason=verdict.reason,
        final=final if final != address else None,
    )


DSN_FIELD_LINE = re.compile(
    r"^(Final-Recipient|Original-Recipient|Action|Status|Diagnostic-Code|Remote-MTA"
    r"|Last-Attempt-Date|Reporting-MTA)\s*:",
    re.IGNORECASE | re.MULTILINE,
)


def dsn_blocks_in_text(text: str) -> list[email.message.Message]:
    """DSN fields pasted into a plain-text report (Amazon WorkMail's "Technical report")."""
    if len(DSN_FIELD_LINE.findall(text)) < 2 or not re.search(
        r"^Final-Recipient\s*:", text, re.IGNORECASE | re.MULTILINE
    ):
        return []
    lines: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if DSN_FIELD_LINE.match(line):
            lines.append(line.strip())
        elif lines and line[:1] in (" ", "\t") and line.strip():
            lines[-1] += " " + line.strip()
    return split_fields(lines)


def overall_kind(recipients: list[Recipient]) -> str:
    found = {r.classification for r in recipients}
    for classification in (HARD, SOFT, UNKNOWN, DELAY):
        if classification in found:
            return classification
    return UNKNOWN


def parse_arf(msg: email.message.Message) -> Report | None:
    """An RFC 5965 feedback report: the complained-about recipients and the feedback fields."""
    for part in top_parts(msg):
        if part.get_content_type() != "message/feedback-report":
            continue
        fields: dict[str, str] = {}
        addresses: list[str] = []
        for block in _field_blocks(part):
            fields.update({k.lower(): unfold(v) or "" for k, v in block.items()})
            addresses += [
                a for v in block.get_all("Original-Rcpt-To", []) if (a := _address_field(v))
            ]
        original = original_message(msg)
        if fields.get("feedback-type", "").lower() == "not-spam":
            return Report(UNKNOWN, (), original, fields)
        if not addresses and original is not None:
            addresses = [a for a in [_address_field(original.get("To"))] if a]
        kind = fields.get("feedback-type")
        recipients = tuple(
            Recipient(a, COMPLAINT, diagnostic=kind) for a in dict.fromkeys(addresses)
        )
        return Report(COMPLAINT, recipients, original, fields)
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
