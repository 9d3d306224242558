"""Reports in no standard format: the failed addresses flufl.bounce finds, completed here.

For bounces that are neither RFC 3464 nor ARF: the report's own words (not the quoted
original) name the failed addresses and, next to each, the reason it is classified by."""

from __future__ import annotations

import email
import email.message
import email.utils
import re

from flufl.bounce import all_failures

from mailapp.feedback.returns.codes import (
    DELAY,
    UNKNOWN,
    classify,
    enhanced_code,
)
from mailapp.feedback.returns.standard import (
    ADDRESS_RE,
    Recipient,
    Report,
    body_text,
    context_of,
    diagnostic_in,
    original_message,
    overall_kind,
    own_text,
)


def parse_heuristic(msg: email.message.Message) -> Report:
    """The failed and delayed recipients of a report in no standard format."""
    temporary, permanent = all_failures(msg)
    text = body_text(msg)
    words = own_text(text)
    failed = {_decode(a) for a in permanent} or _extra_failures(words)
    delayed = {_decode(a) for a in temporary} - failed
    failed = {_expanded_from(words, a) for a in failed}
    recipients = []
    for address in sorted(failed):
        diagnostic = diagnostic_in(context_of(words, address))
        recipients.append(
            Recipient(
                address,
                classify(None, diagnostic) or UNKNOWN,
                enhanced_code(diagnostic),
                diagnostic,
            )
        )
    recipients += [
        Recipient(a, DELAY, diagnostic=diagnostic_in(context_of(words, a))) for a in sorted(delayed)
    ]
    if not recipients:
        return Report(UNKNOWN, (), original_message(msg))
    return Report(overall_kind(recipients), tuple(recipients), original_message(msg))


def _decode(address: bytes | str) -> str:
    return address.decode("utf-8", "replace") if isinstance(address, bytes) else address


def _expanded_from(text: str, address: str) -> str:
    """Sendmail names the alias target; the address we sent to is what it expanded from."""
    match = re.search(
        re.escape(address) + r"\s*\(expanded from:?\s*<?([^>)\s]+)>?\)", text, re.IGNORECASE
    )
    return match[1] if match else address


FAILED_BLOCK = re.compile(
    r"(following\s+(addresses|address\(es\)|address|recipients?)\b[^:]{0,80}?"
    r"(failed|aborted|permanent fatal errors)[^\n]*\n)(?P<block>.*?)(\n\s*\n\s*\n|\n-{3,}|\Z)",
    re.IGNORECASE | re.DOTALL,
)


def _extra_failures(text: str) -> set[str]:
    """Formats flufl.bounce misses: Exim's list (with 'generated from') and bulleted lists."""
    found = {
        m[1]
        for m in re.finditer(
            r"delivery failed[^:\n]*:\s*<?(" + ADDRESS_RE.pattern + ")", text, re.I
        )
    }
    match = FAILED_BLOCK.search(text)
    if not match:
        return found
    for line in match["block"].splitlines():
        generated = re.search(r"\(generated from\s+<?([^>)\s]+)>?\)", line)
        if generated:
            found.add(generated[1])
            continue
        # Addresses head their line (Exim, bullets); indented detail lines quote others.
        head = re.match(r"^\s{0,4}(?:\*\s*)?<?(" + ADDRESS_RE.pattern + r")>?:?\s*$", line)
        if head:
            found.add(head[1])
    return found
