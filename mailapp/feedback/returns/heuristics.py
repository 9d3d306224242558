"""Reports in no standard format: the failed addresses flufl.bounce finds, completed here.

For bounces that are neither RFC 3464 nor ARF: the report's own words (not the quoted
original) name the failed addresses and, next to each, the reason it is classified by.
flufl.bounce's detectors go first (one that crashes on odd input is skipped, never fatal),
then the layouts it misses (`finders`). A report that names no address still gets a verdict
from its words when it is plainly a bounce: with VERP the delivery is known anyway.
"""

from __future__ import annotations

import email
import email.message
import email.utils
import logging
import re

from flufl.bounce._scan import _DETECTORS  # pinned: all_failures() stops at the first crash

from mailapp.feedback.returns.codes import DELAY, UNKNOWN, enhanced_code, judge
from mailapp.feedback.returns.finders import ADDRESS, failed_addresses
from mailapp.feedback.returns.standard import (
    DAEMON_FROM,
    Recipient,
    Report,
    original_message,
    overall_kind,
)
from mailapp.feedback.returns.text import body_text, context_of, diagnostic_in, own_text

log = logging.getLogger(__name__)
BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery (status|failure|failed|has failed|problem)|returned mail"
    r"|failure notice|mail delivery|could not be delivered|non.?delivery|nondeliverable"
    r"|error sending|delivery report|rejected|returned to sender|mail system error",
    re.IGNORECASE,
)


def flufl_failures(msg: email.message.Message) -> tuple[set[str], set[str]]:
    """flufl.bounce's (temporary, permanent) addresses; a detector that raises is skipped."""
    for detector in _DETECTORS:
        try:
            temporary, permanent = detector().process(msg)
        except Exception:
            log.debug("flufl.bounce detector %s failed on this message", detector.__name__)
            continue
        if temporary or permanent:
            return _valid(temporary), _valid(permanent)
    return set(), set()


def _valid(addresses: object) -> set[str]:
    decoded = (a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a) for a in addresses)
    return {a for a in decoded if re.fullmatch(ADDRESS, a)}


def looks_like_bounce(msg: email.message.Message) -> bool:
    """From a mailer daemon, or a subject that says the mail was not delivered."""
    return bool(
        DAEMON_FROM.search(str(msg.get("From", "")))
        or BOUNCE_SUBJECT.search(str(msg.get("Subject", "")))
    )


def parse_heuristic(msg: email.message.Message) -> Report:
    """The failed and delayed recipients of a report in no standard format."""
    temporary, permanent = flufl_failures(msg)
    words = own_text(body_text(msg))
    failed = permanent or _extra_failures(words)
    if not failed and not temporary:
        failed = set(failed_addresses(words, _own_addresses(msg)))
    if not failed and not temporary and looks_like_bounce(msg):
        failed = _sole_original_recipient(msg, words)
    delayed = temporary - failed
    failed = {_expanded_from(words, a) for a in failed}
    recipients = []
    for address in sorted(failed):
        diagnostic = diagnostic_in(context_of(words, address, failed)) or diagnostic_in(words)
        verdict = judge(None, diagnostic)
        recipients.append(
            Recipient(
                address,
                verdict.classification if verdict else UNKNOWN,
                enhanced_code(diagnostic),
                diagnostic,
                reason=verdict.reason if verdict else None,
            )
        )
    recipients += [
        Recipient(a, DELAY, diagnostic=diagnostic_in(context_of(words, a))) for a in sorted(delayed)
    ]
    original = original_message(msg)
    if recipients:
        return Report(overall_kind(recipients), tuple(recipients), original)
    if looks_like_bounce(msg):
        diagnostic = diagnostic_in(words)
        verdict = judge(None, diagnostic)
        if verdict is not None:
            return Report(verdict.classification, (), original, reason=verdict.reason)
    return Report(UNKNOWN, (), original)


ORIGINAL_TO = re.compile(r"^\s*To:\s*(.+)$", re.IGNORECASE | re.MULTILINE)


def _sole_original_recipient(msg: email.message.Message, words: str) -> set[str]:
    """A bounce that names no address is about the one the returned original went to."""
    original = original_message(msg)
    if original is not None:
        values = [str(v) for v in original.get_all("To", [])]
    else:
        # The original's headers quoted as text after the report's own words.
        quoted = ORIGINAL_TO.search(body_text(msg)[len(words) :] or words)
        values = [quoted[1]] if quoted else []
    addresses = {a for _, a in email.utils.getaddresses(values) if re.fullmatch(ADDRESS, a)}
    addresses -= _own_addresses(msg)
    return addresses if len(addresses) == 1 else set()


def _own_addresses(msg: email.message.Message) -> set[str]:
    """The report's own sender and addressee: never the failed recipient."""
    values = [str(v) for h in ("From", "To", "Reply-To", "Sender") for v in msg.get_all(h, [])]
    return {a.lower() for _, a in email.utils.getaddresses(values) if a}


def _expanded_from(text: str, address: str) -> str:
    """Sendmail names the alias target; the address we sent to is what it expanded from."""
    match = re.search(
        re.escape(address) + r">?\s*\(expanded from:?\s*<?([^>)\s]+)>?\)", text, re.IGNORECASE
    )
    return match[1] if match and "@" in match[1] else address


FAILED_BLOCK = re.compile(
    r"(following\s+(addresses|address\(es\)|address|recipients?)\b[^:]{0,80}?"
    r"(failed|aborted|permanent fatal errors)[^\n]*\n)(?P<block>.*?)(\n\s*\n\s*\n|\n-{3,}|\Z)",
    re.IGNORECASE | re.DOTALL,
)


def _extra_failures(text: str) -> set[str]:
    """Formats flufl.bounce misses: Exim's list (with 'generated from') and bulleted lists."""
    found = {
        m[1] for m in re.finditer(r"delivery failed[^:\n]*:\s*<?(" + ADDRESS + ")", text, re.I)
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
        head = re.match(r"^\s{0,4}(?:\*\s*)?<?(" + ADDRESS + r")>?:?\s*$", line)
        if head:
            found.add(head[1])
    return found
