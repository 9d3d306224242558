"""Where returned mail is read from: a Maildir, an mbox file, an IMAP or POP3 mailbox.

Each message is handed to `feedback.ingest_message` (which commits it) before it is marked
as read at its source, so a crash in between reads it again rather than losing it.
"""

from __future__ import annotations

import imaplib
import logging
import mailbox
import poplib
import ssl
from pathlib import Path
from urllib.parse import unquote, urlsplit

from mailapp.access.audit import Actor
from mailapp.config import redact_url
from mailapp.errors import ServiceError
from mailapp.feedback.inbound import ingest_message

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"imap": 143, "imaps": 993, "pop3": 110, "pop3s": 995}


def ingest_maildir(path: str | Path, *, actor: Actor) -> int:
    """Ingest the Maildir's unread messages and flag them seen; returns how many."""
    box = mailbox.Maildir(path, factory=None, create=False)
    count = 0
    for key in list(box.keys()):
        message = box[key]
        if "S" in message.get_flags():
            continue
        ingest_message(box.get_bytes(key), source="maildir", actor=actor)
        message.set_subdir("cur")
        message.add_flag("S")
        box[key] = message
        count += 1
    return count


def ingest_mbox(path: str | Path, *, actor: Actor) -> int:
    """Ingest every message of an mbox file (a one-off import: the file is left as it is)."""
    box = mailbox.mbox(path, create=False)
    try:
        keys = list(box.iterkeys())
        for key in keys:
            ingest_message(box.get_bytes(key), source="mbox", actor=actor)
    finally:
        box.close()
    return len(keys)


def poll_mailbox(url: str, *, actor: Actor, limit: int = 500) -> int:
    """Ingest up to `limit` new messages from imap[s]://user:pass@host[:port]/FOLDER or
    pop3[s]://user:pass@host[:port]; IMAP messages are flagged seen, POP3 ones deleted."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ServiceError(f"unsupported bounce mailbox URL {redact_url(url)}")
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    if parts.scheme.startswith("imap"):
        folder = unquote(parts.path.lstrip("/")) or "INBOX"
        return _poll_imap(parts.scheme, parts.hostname, port, user, password, folder, actor, limit)
    return _poll_pop3(parts.scheme, parts.hostname, port, user, password, actor, limit)


def _poll_imap(
    scheme: str,
    host: str,
    port: int,
    user: str,
    password: str,
    folder: str,
    actor: Actor,
    limit: int,
) -> int:
    client = (
        imaplib.IMAP4_SSL(host, port, ssl_context=ssl.create_default_context(), timeout=60)
        if scheme == "imaps"
        else imaplib.IMAP4(host, port, timeout=60)
    )
    try:
        client.login(user, password)
        status, _ = client.select(_quote(folder))
        if status != "OK":
            raise ServiceError(f"no folder {folder!r} in the bounce mailbox")
        _, data = client.uid("SEARCH", None, "UNSEEN")
        uids = (data[0] or b"").split()[:limit]
        for uid in uids:
            _, fetched = client.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next(item[1] for item in fetched if isinstance(item, tuple))
            ingest_message(raw, source="imap", actor=actor)
            client.uid("STORE", uid, "+FLAGS", "(\\Seen)")
        return len(uids)
    finally:
        try:
            client.logout()
        except (imaplib.IMAP4.error, OSError) as exc:
            log.warning("bounce mailbox logout failed: %s", exc)


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _poll_pop3(
    scheme: str, host: str, port: int, user: str, password: str, actor: Actor, limit: int
) -> int:
    client = (
        poplib.POP3_SSL(host, port, context=ssl.create_default_context(), timeout=60)
        if scheme == "pop3s"
        else poplib.POP3(host, port, timeout=60)
    )
    count = 0
    try:
        client.user(user)
        client.pass_(password)
        total, _ = client.stat()
        for number in range(1, min(total, limit) + 1):
            _, lines, _ = client.retr(number)
            ingest_message(b"\r\n".join(lines) + b"\r\n", source="pop3", actor=actor)
            client.dele(number)
            count += 1
    finally:
        # QUIT commits the deletions; without it the server keeps the messages.
        client.quit()
    return count


def poll_configured_mailbox(url: str | None, *, actor: Actor) -> int:
    """The scheduled poll: nothing to do when no BOUNCE_MAILBOX_URL is configured."""
    if not url:
        return 0
    count = poll_mailbox(url, actor=actor)
    if count:
        log.info("ingested %d messages from %s", count, redact_url(url))
    return count
