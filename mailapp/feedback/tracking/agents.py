"""Who fetched a pixel or followed a link: a person, or a machine acting for one.

Mail privacy proxies (Apple Mail Privacy Protection, Gmail's and Yahoo's image proxies)
fetch every image whether or not anyone reads the message; security gateways follow every
link before delivery. Their events are kept but flagged, so reports show humans apart.
The drain applies all of them: the agent and address the request saw, the delivery's send
time, and the other clicks of the same message (in its batch and recorded just before).
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from datetime import datetime, timedelta

# Apple's proxy fetches from Apple's own network with a bare "Mozilla/5.0".
APPLE_NETWORK = ipaddress.ip_network("17.0.0.0/8")
PROXY_AGENTS = (
    (re.compile(r"GoogleImageProxy", re.IGNORECASE), "gmail_proxy"),
    (re.compile(r"YahooMailProxy", re.IGNORECASE), "yahoo_proxy"),
)
SCANNER_AGENT = re.compile(
    r"bot\b|crawler|spider|scanner|preview|python-requests|python-urllib|aiohttp|curl/|wget|"
    r"go-http-client|java/|okhttp|libwww|httpclient|headless|phantomjs|barracuda|mimecast|"
    r"proofpoint|forcepoint|symantec|trend ?micro|fireeye|ironport|safelinks|urldefense|"
    r"office existence discovery|protocol discovery|facebookexternalhit|slackbot|"
    r"skypeuripreview|outlook-ios-linkpreview",
    re.IGNORECASE,
)
# A machine, not a reader: anything within these seconds of the send.
PREFETCH_WINDOW = timedelta(seconds=10)
# A gateway following every link: this many distinct links of one message within the window.
SCAN_BURST_LINKS = 3
SCAN_BURST_WINDOW = timedelta(seconds=5)


def classify_agent(user_agent: str | None, ip: str | None) -> str | None:
    """The kind of machine behind a request, or None when it looks like a person."""
    agent = (user_agent or "").strip()
    if not agent:
        return "no_agent"
    for pattern, name in PROXY_AGENTS:
        if pattern.search(agent):
            return name
    if agent == "Mozilla/5.0" or _in_apple_network(ip):
        return "apple_mpp"
    if SCANNER_AGENT.search(agent):
        return "scanner"
    return None


def _in_apple_network(ip: str | None) -> bool:
    try:
        return ip is not None and ipaddress.ip_address(ip) in APPLE_NETWORK
    except ValueError:
        return False


def is_prefetch(occurred_at: datetime, sent_at: datetime | None) -> bool:
    """Fetched within seconds of the send: a gateway or proxy, not a reader."""
    return sent_at is not None and occurred_at - sent_at < PREFETCH_WINDOW


def scan_bursts(clicks: list[tuple[object, int, datetime]]) -> set[int]:
    """Indexes of clicks that belong to a burst of distinct links from one message.

    `clicks` holds (message key, link id, time) in any order; the answer names positions
    in that list.
    """
    by_message: dict[object, list[tuple[datetime, int, int]]] = {}
    for index, (key, link_id, at) in enumerate(clicks):
        by_message.setdefault(key, []).append((at, link_id, index))
    flagged: set[int] = set()
    for items in by_message.values():
        items.sort()
        # A sliding window with a count per link: linear in the clicks of one message,
        # however many repeat clicks of one link a batch holds.
        links: Counter[int] = Counter()
        start = unflagged = 0
        for end, (at, link_id, _) in enumerate(items):
            links[link_id] += 1
            while at - items[start][0] > SCAN_BURST_WINDOW:
                links[items[start][1]] -= 1
                if not links[items[start][1]]:
                    del links[items[start][1]]
                start += 1
            if len(links) >= SCAN_BURST_LINKS:
                flagged.update(index for _, _, index in items[max(start, unflagged) : end + 1])
                unflagged = end + 1
    return flagged
