"""The words of a returned message: its own text parts, where its quoted original begins,
and the reply or reason next to an address."""

from __future__ import annotations

import email.message
import re
from collections.abc import Iterable, Iterator

from mailapp.feedback.returns.codes import BASIC_RE, ENHANCED_RE
from mailapp.feedback.returns.reasons import reason_in_text


def top_parts(msg: email.message.Message) -> Iterator[email.message.Message]:
    """Every MIME part, not descending into attached messages (a quoted report is not ours)."""
    yield msg
    if msg.is_multipart() and msg.get_content_type() != "message/rfc822":
        for part in msg.get_payload():
            if isinstance(part, email.message.Message):
                yield from top_parts(part)


def unfold(value: str | None) -> str | None:
    return re.sub(r"\s+", " ", str(value)).strip() if value else None


def body_text(msg: email.message.Message) -> str:
    """The report's own text parts, without any attached original message."""
    texts = []
    for part in top_parts(msg):
        ctype = part.get_content_type()
        # A multipart whose boundary never appears is read as the text it is.
        broken = part.get_content_maintype() == "multipart" and not part.is_multipart()
        if (part.get_content_maintype() == "text" and ctype != "text/rfc822-headers") or broken:
            payload = part.get_payload(decode=True) or b""
            texts.append(decode_text(payload, part.get_content_charset()))
    return "\n".join(texts)


def decode_text(payload: bytes, charset: str | None) -> str:
    """Bytes as text in their declared charset; an undeclared or unknown one never fails."""
    if b"\x1b$B" in payload and (charset or "").lower() in ("", "us-ascii", "iso-2022-jp"):
        charset = "iso-2022-jp"  # Japanese carriers often send JIS text without saying so
    try:
        return payload.decode(charset or "latin-1", "replace")
    except LookupError:
        return payload.decode("latin-1", "replace")


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


def context_of(text: str, address: str, others: Iterable[str] = ()) -> str:
    """The words that follow an address in a report, up to the next of the others named."""
    lowered = text.lower()
    at = lowered.find(address.lower())
    if at == -1:
        return text
    after = lowered[at : at + 800]
    cuts = [
        found
        for other in others
        if other.lower() != address.lower() and (found := after.find(other.lower(), 1)) > 0
    ]
    return text[at : at + (min(cuts) if cuts else 800)]


def says_something(text: str) -> bool:
    """Does a text carry a reply code or a reason?"""
    return bool(ENHANCED_RE.search(text) or BASIC_RE.search(text) or reason_in_text(text))


def diagnostic_in(text: str) -> str | None:
    """The SMTP reply or reason a non-standard bounce gives, kept as it is."""
    paragraph = re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip(), maxsplit=1)[0]
    if says_something(paragraph):
        return unfold(paragraph)[:1000]
    for line in text.splitlines():
        if says_something(line):
            return unfold(line)[:1000]
    return None
