"""Finding the failed addresses in a report's own words, whatever the vendor's layout.

Non-standard reports name their failed recipients in a few recurring shapes, which these
readers look for in the text before the quoted original (never in it):

- a lead-in sentence and then the addresses, inline or one per line ("Delivery has failed to
  these recipients or groups:", "Could not be delivered to: <a@b>", "The following addresses
  had permanent fatal errors", "Recipient address: a@b", m-FILTER's and Lotus Notes' blocks,
  Japanese carriers' "以下のアドレス");
- a Sendmail transcript: `554 <a@b>... 550 Host unknown` (old Sendmail, V5, Active!Hunter);
- an SMTP dialogue: `RCPT TO:<a@b>` answered by a 4xx/5xx reply (InterScan, EZweb).
"""

from __future__ import annotations

import re

ADDRESS = r"[\w.+=!#$%&'*/?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+"
LEAD_IN = re.compile(
    r"following (e-?mail )?(addresses|address(\(es\))?|recipients?|destinations?|list of recip)"
    r"|these recipients|could not be delivered to|(could not|couldn'?t|unable to|failed to)"
    r" deliver( (your|the|this))?( (mail|message|e-?mail))? to|error (delivering|sending)"
    r" (your )?(mail|message|e-?mail)? ?to|(was|were) not delivered to|undeliverable to"
    r"|delivery to the following|permanent fatal errors|had delivery errors|failure reasons"
    r"|recipients? returned|not be delivered to|delivery (has )?failed (to|for)"
    r"|以下の(メール)?アドレス|以下の宛先|下記の(メール)?アドレス",
    re.IGNORECASE,
)
# An address heading its line: bare, bulleted, quoted, or labelled as the recipient.
ADDRESS_LINE = re.compile(
    r"^\s{0,8}(?:[*\->•]+\s*|recipient( address)?\s*:\s*|failed recipient\s*:\s*)?"
    r"[\"'<(\[]?(?:mailto:)?(" + ADDRESS + r")",
    re.IGNORECASE,
)
SENDMAIL_LINE = re.compile(
    r"^\s*(?:[245]\d\d[ -]+)?(?:[245]\.\d\.\d+\s+)?<?(" + ADDRESS + r")>?\.\.\.\s*\S",
    re.MULTILINE,
)
RCPT_LINE = re.compile(r"RCPT TO:\s*<?(" + ADDRESS + r")>?", re.IGNORECASE)
REPLY = re.compile(r"(?<![\w.])[245]\d\d[ -]")
# Lines of a report that quote the original's headers, whose addresses did not fail.
HEADER_LINE = re.compile(
    r"^\s*(from|to|cc|bcc|reply-to|sender|return-path|message-id|date|subject|envelope-from"
    r"|x-[\w-]+)\s*:",
    re.IGNORECASE,
)
NOT_RECIPIENT = re.compile(r"^(postmaster|mailer-daemon|mail-daemon|root|abuse)@", re.IGNORECASE)


def failed_addresses(text: str, exclude: set[str]) -> list[str]:
    """The failed addresses a report's own text names, in order, without the excluded."""
    lines = text.replace("\r\n", "\n").split("\n")
    found = _after_lead_in(lines) + _sendmail_transcript(text) + _rcpt_dialogue(lines)
    seen: dict[str, str] = {}
    for address in found:
        address = address.strip(".,;:>)]'\"")
        key = address.lower()
        if key not in seen and key not in exclude:
            seen[key] = address
    addresses = list(seen.values())
    # A report that names the postmaster only as a contact does not mean it failed.
    named = [a for a in addresses if not NOT_RECIPIENT.match(a)]
    return named or addresses


def _after_lead_in(lines: list[str]) -> list[str]:
    found: list[str] = []
    for i, line in enumerate(lines):
        match = LEAD_IN.search(line)
        if not match or HEADER_LINE.match(line):
            continue
        inline = re.findall(ADDRESS, line[match.end() :])
        found += inline
        if inline:
            continue
        # The list follows: address-headed lines, until a paragraph that names none.
        seen_any = False
        for follow in lines[i + 1 : i + 16]:
            if not follow.strip():
                if seen_any:
                    break
                continue
            if LEAD_IN.search(follow) or HEADER_LINE.match(follow):
                if seen_any:
                    break
                continue
            head = ADDRESS_LINE.match(follow)
            if head:
                found.append(head[2])
                seen_any = True
    return found


def _sendmail_transcript(text: str) -> list[str]:
    return [m[1] for m in SENDMAIL_LINE.finditer(text)]


def _rcpt_dialogue(lines: list[str]) -> list[str]:
    """`RCPT TO:<a@b>` followed by a failure reply on the same or one of the next lines."""
    found = []
    for i, line in enumerate(lines):
        match = RCPT_LINE.search(line)
        if match is None:
            continue
        after = " ".join([line[match.end() :], *lines[i + 1 : i + 3]])
        reply = REPLY.search(after)
        if reply and after[reply.start()] in "45":
            found.append(match[1])
    return found
