"""Which mail client and device opened a message, as far as the user agent tells.

Only what the agent states is named: Outlook, Thunderbird and Apple Mail say who they are;
webmail opens carry the reader's browser; the Gmail and Yahoo image proxies name their
webmail (they fetch when the reader opens), Apple's privacy proxy names only Apple Mail.
Anything else stays out of the breakdown rather than being guessed.
"""

from __future__ import annotations

import re

# Checked in order: the first pattern found names the client.
CLIENTS = (
    (re.compile(r"GoogleImageProxy", re.I), "Gmail"),
    (re.compile(r"YahooMailProxy", re.I), "Yahoo Mail"),
    (re.compile(r"Microsoft Outlook|MSOffice|ms-office|Outlook-", re.I), "Outlook"),
    (re.compile(r"Thunderbird", re.I), "Thunderbird"),
    (re.compile(r"Edg/|Edge/", re.I), "Webmail (Edge)"),
    (re.compile(r"Firefox/", re.I), "Webmail (Firefox)"),
    (re.compile(r"Chrome/|CriOS/", re.I), "Webmail (Chrome)"),
    (re.compile(r"(iPhone|iPad|Macintosh).*AppleWebKit(?!.*Safari/)", re.I), "Apple Mail"),
    (re.compile(r"Safari/", re.I), "Webmail (Safari)"),
)
MACHINE_CLIENTS = {"apple_mpp": "Apple Mail (privacy proxy)"}
TABLET = re.compile(r"iPad|Tablet|Android(?!.*Mobile)", re.I)
MOBILE = re.compile(r"iPhone|iPod|Mobile|Android|Windows Phone", re.I)
DESKTOP = re.compile(r"Windows NT|Macintosh|X11|Linux|CrOS", re.I)


def mail_client(user_agent: str | None, machine: str | None = None) -> str | None:
    """The mail client an open came from, or None when the agent does not tell."""
    if machine in MACHINE_CLIENTS:
        return MACHINE_CLIENTS[machine]
    agent = user_agent or ""
    if machine not in (None, "gmail_proxy", "yahoo_proxy", "prefetch"):
        return None  # scanners and agent-less fetches are nobody's mail client
    for pattern, name in CLIENTS:
        if pattern.search(agent):
            return name
    return None


def device(user_agent: str | None) -> str | None:
    """ "Mobile", "Tablet" or "Desktop" for a reader's agent, or None when it does not tell."""
    agent = user_agent or ""
    if TABLET.search(agent):
        return "Tablet"
    if MOBILE.search(agent):
        return "Mobile"
    if DESKTOP.search(agent):
        return "Desktop"
    return None
