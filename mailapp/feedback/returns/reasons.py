"""What a server's reply text means: the reason it names, in the words servers use.

Patterns are tried in order, first the unambiguous phrases of every reason ("user unknown",
"mailbox full", "blocked using Spamhaus"), then the vague ones ("mailbox unavailable",
"address rejected") that a specific status code may overrule. Sender-side words come early:
a reply about our sender or our IP says nothing about the recipient's address.
"""

from __future__ import annotations

import re

from mailapp.models.bounce_reason import BounceReason as R


def _p(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(alternatives), re.IGNORECASE)


ADDR = r"<?[^\s<>@]+@[^\s<>]+>?"
STRONG: list[tuple[R, re.Pattern[str]]] = [
    (
        R.RATE_LIMITED,
        _p(
            r"rate that prevents|receiving mail (too quickly|at a rate)|rate.?limit|throttl",
            r"too many (messages|mails|e-?mails|connections|recipients|sessions)",
            r"(sending|connection|message) rate|sending too (fast|much)|too (fast|much mail)",
            r"exceed(ed|s)? (the )?(maximum )?(number of |allowed )?(messages|connections|rate)",
            r"unusual (rate|volume)|(mail|message) flood|4\.7\.28|connection limit",
        ),
    ),
    (
        R.RELAY_DENIED,
        _p(
            r"relay(ing)? (access )?(denied|not permitted|not allowed|prohibited|refused)",
            r"(not allowed|not permitted|unable|cannot|can'?t) (to )?relay|we do not relay",
            r"no relaying|relay not|open relay",
        ),
    ),
    (
        R.POLICY_BLOCKED,
        _p(
            r"sender address rejected|after mail from|sender verify failed|domain of sender",
            r"mail from.{0,30}(rejected|refused|denied)|sender (domain|address) (must|does not|is)",
            r"(don'?t|do not|not) have permission to (post|send)|my name was rejected|\bhelo\b",
            r"access denied",
        ),
    ),
    (
        R.MAILBOX_FULL,
        _p(
            r"mail ?box.{0,40}\bfull\b|\bfull mail ?box|over (the |his |her |their )?quota",
            r"quota (exceeded|full|reached)|exceed(ed|s)? (the |his |her |their )?(storage|quota)",
            r"insufficient (system )?storage|storage (allocation|space)|out of (disk )?space",
            r"mail ?box (size|space) (limit|exceeded)|not enough (storage|space)|user is over",
            r"mail ?folder is full|mailbox has exceeded",
        ),
    ),
    (
        R.MAILBOX_DISABLED,
        _p(
            r"(account|mail ?box|user|address|recipient)( that you tried to reach)?"
            r"( has been| is| was|'s)( temporarily)? (disabled|suspended|deactivated|inactive"
            r"|locked|frozen|closed|discontinued|expired)",
            r"(disabled|inactive|suspended|deactivated|expired) (user|account|mail ?box)",
            r"mail ?box (is )?(not accepting|unavailable due to inactivity)",
            r"not accepting (any )?(mail|messages|email)",
        ),
    ),
    (
        R.USER_UNKNOWN,
        _p(
            r"user ?unknown|unknown (user|recipient|local.?part|mail ?box|address|account|alias)",
            r"no such (user|mail ?box|recipient|address|account|person|local user|alias)",
            r"(user|recipient|mail ?box|address|account|addressee|e-?mail address|local.?part)"
            r"( name)? (is )?(not found|unknown|not known"
            r"|(does not|doesn'?t|not|no longer) exists?)",
            r"addressee unknown|doesn'?t have an? [\w.-]+ account|recipientnotfound",
            r"(invalid|not a valid|bad|unknown|nonexistent|non-existent) (recipient|mail ?box|user"
            r"|destination mail ?box|e-?mail address)",
            r"no mail ?box here|unrouteable address|not our customer|no account by that name",
            r"address rejected: (user unknown|undeliverable)|(e-?mail )?address (wasn'?t|was not)"
            r" found|" + ADDR + r" (does not exist|not found|is not a valid)",
            r"mail ?box (not found|not present|does not exist)|user not (found|local|exist)",
            r"recipient (not found|unknown|does not exist)|no such person|illegal alias",
            r"not listed in (the )?(domino|public|address|directory)|invalid address",
            r"(recipient|user|address)( name)? (is )?not recognized|no valid recipients",
            r"(account|domain) (or (account|domain|address) )?may not exist",
        ),
    ),
    (
        R.HOST_UNKNOWN,
        _p(
            r"host (or domain name )?not found|host unknown|unknown host|no such (domain|host)",
            r"domain (name )?(not found|does not exist|doesn'?t exist|is not valid|unknown)",
            r"(?<![@\w.-])[a-z0-9-]+(\.[a-z0-9-]+)+ (does not exist|not found)",
            r"unrout(e)?able (mail )?domain|no (mx|mail exchanger|valid mx)|null mx|nxdomain",
            r"name service error|does not accept mail|domain is not reachable|invalid domain",
            r"(unknown|non-?existent|bad) (domain|host)|domain or address|no smtp service",
        ),
    ),
    (
        R.EXPIRED,
        _p(
            r"(message|envelope|delivery time|retry time(out)?|queue lifetime) (has )?expired",
            r"expired (after|in queue)|too long in (the )?queue|undeliverable for \d+",
            r"(could not|couldn'?t|cannot) be delivered (for|within|in) (the last )?\d+",
            r"(queued|delayed|in queue) (for|longer than) (more than )?\d+ (days|hours)",
            r"retry (period|timeout|time) exceeded|delivery (period|time) exceeded|4\.4\.7",
            r"no answer from host for|maximum (queue )?(time|lifetime)",
        ),
    ),
    (
        R.AUTH_FAILURE,
        _p(
            r"\b(spf|dkim|dmarc|arc)\b|sender policy framework|unauthenticated (e-?)?mail",
            r"not authenticated|authentication (failed|failure|required|check)",
            r"5\.7\.(2[0-46-9]|[5-9]|12)\b",
        ),
    ),
    (
        R.POLICY_BLOCKED,
        _p(
            r"black.?list|block.?list|block ?list|spamhaus|spamcop|sorbs|barracuda|\brbl\b|dnsbl",
            r"reputation|listed (in|on|at|by)|banned|your (ip|host|server|network)",
            r"client host .{0,40}(rejected|blocked)|reverse (dns|lookup)|\bptr\b|\brdns\b",
            r"recipient preferences|not accepting mail from|poor reputation",
        ),
    ),
    (
        R.SPAM_CONTENT,
        _p(
            r"spam|junk|virus|malware|infected|phish|unsolicited|\buce\b|bulk mail",
            r"content (rejected|filter|policy|blocked)|message content|suspicious (content|url)",
            r"(banned|prohibited|forbidden|dangerous) (attachment|file|content)",
        ),
    ),
    (
        R.MESSAGE_TOO_BIG,
        _p(
            r"message (is )?too (big|large)|message size|size (limit|exceeds)|too large",
            r"exceeds? (the )?(maximum )?(allowed )?(message )?size|mail size",
        ),
    ),
    (
        R.NETWORK_ERROR,
        _p(
            r"connection (refused|reset|timed out|closed|lost|dropped)|timed? ?out",
            r"could not connect",
            r"unable to connect|no route to host|network (is )?unreachable|lost connection",
            r"dns (error|failure|lookup)|servfail|starttls|\btls\b|handshake|certificate",
        ),
    ),
    (
        R.POLICY_BLOCKED,
        _p(
            r"blocked|denied|refused|not allowed|not permitted|policy|prohibited|rejected for",
            r"not authori[sz]ed|unauthori[sz]ed|greylist|grey.?listed|gray.?listed",
        ),
    ),
    (
        R.SYSTEM_ERROR,
        _p(
            r"internal (server |system )?error|system error|local error|server error",
            r"temporar(il)?y (unavailable|failure|error|rejected)|service (not |un)available",
            r"try again later|mail loop|hop count|too many hops|routing loop|loops back",
            r"configuration error|misconfigur|mailer error|program failed|command failed",
            r"out of memory|i/o error|resources temporarily|unable to deliver.{0,20}system",
        ),
    ),
]
WEAK: list[tuple[R, re.Pattern[str]]] = [
    (
        R.USER_UNKNOWN,
        _p(
            r"mail ?box unavailable|address rejected|recipient rejected|rejected recipient",
            r"does not like recipient|undeliverable address|may not exist",
            r"(address|recipient|mail ?box|user).{0,30}"
            r"(invalid|not valid|(could )?not (be )?found)",
        ),
    ),
]


def reason_in_text(text: str | None) -> tuple[R, bool] | None:
    """The reason a reply's text names and whether it says so unambiguously."""
    if not text:
        return None
    for reason, pattern in STRONG:
        if pattern.search(text):
            return reason, True
    for reason, pattern in WEAK:
        if pattern.search(text):
            return reason, False
    return None
