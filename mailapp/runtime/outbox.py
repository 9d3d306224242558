"""The development capture server's Maildir (see mailapp.dev), read for the Outbox page.

The capture server stores the mail of every project on the machine; each message is shown
only in the project that sent it. Which one is read from what the app itself wrote on it: the
signed VERP envelope sender names the campaign delivery or transactional message, and a test
send's Message-ID (`<test.<random>.<version id>@…>`) names its template version.
"""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from mailapp.errors import NotFound
from mailapp.extensions import db
from mailapp.models import Delivery, Message, TemplateVersion
from mailapp.urls import read_verp

OUTBOX_DIR = "outbox"  # under the instance folder; the capture server (mailapp.dev) writes it
SCAN_LIMIT = 5000  # newest files looked at for one listing: a development folder, kept bounded
TEST_SEND_ID = re.compile(r"^<test\.[0-9a-f]+\.(\d+)@", re.IGNORECASE)


@dataclass(frozen=True)
class CapturedSummary:
    key: str
    subject: str
    sender: str
    recipients: str
    captured_at: str
    size: int
    project_id: int | None  # None: not mail this app sent for a project


def outbox_path(instance_path: str | Path) -> Path:
    return Path(instance_path) / OUTBOX_DIR


def _parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)


def _origin(head: EmailMessage) -> tuple[str, int] | None:
    """("delivery" | "message" | "version", id) that a captured message names, if any."""
    envelope = str(head.get("X-Captured-Mail-From", ""))
    found = read_verp(current_app.config["SECRET_KEY"], envelope) if envelope else None
    if found is not None:
        return found
    match = TEST_SEND_ID.match(str(head.get("Message-ID", "")).strip())
    return ("version", int(match[1])) if match else None


def _projects(origins: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """The project of each origin, in one query per kind."""
    wanted: dict[str, set[int]] = {"delivery": set(), "message": set(), "version": set()}
    for kind, item_id in origins:
        wanted[kind].add(item_id)
    found: dict[tuple[str, int], int] = {}
    for kind, model in (("delivery", Delivery), ("message", Message), ("version", TemplateVersion)):
        if wanted[kind]:
            rows = db.session.execute(
                sa.select(model.id, model.project_id).where(model.id.in_(wanted[kind]))
            )
            found.update({(kind, item_id): project_id for item_id, project_id in rows})
    return found


def _heads(folder: Path) -> list[tuple[Path, EmailMessage]]:
    files: list[Path] = []
    for sub in ("new", "cur"):
        files.extend((folder / sub).iterdir())
    files.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    heads = []
    for path in files[:SCAN_LIMIT]:
        with path.open("rb") as fh:
            heads.append((path, BytesParser(policy=policy.default).parse(fh, headersonly=True)))
    return heads


def list_captured(
    folder: Path, project_id: int, *, unmapped: bool = False, limit: int = 200
) -> list[CapturedSummary]:
    """The project's newest captured messages first (and, with `unmapped`, those of no
    project: for operators). Headers only are parsed."""
    if not (folder / "cur").is_dir():
        return []
    heads = _heads(folder)
    origins = {path: _origin(head) for path, head in heads}
    projects = _projects(o for o in origins.values() if o is not None)
    summaries = []
    for path, head in heads:
        origin = origins[path]
        owner = projects.get(origin) if origin is not None else None
        if owner != project_id and not (unmapped and owner is None):
            continue
        summaries.append(
            CapturedSummary(
                key=path.name.split(":", 1)[0],
                subject=str(head.get("Subject", "")),
                sender=str(head.get("X-Captured-Mail-From") or head.get("From", "")),
                recipients=str(head.get("X-Captured-Rcpt-To") or head.get("To", "")),
                captured_at=str(head.get("X-Captured-At", "")),
                size=path.stat().st_size,
                project_id=owner,
            )
        )
        if len(summaries) >= limit:
            break
    return summaries


def get_captured(
    folder: Path, key: str, project_id: int, *, unmapped: bool = False
) -> EmailMessage:
    """One captured message of the project by its Maildir key; NotFound for anything else
    (another project's message included)."""
    if not (folder / "cur").is_dir():
        raise NotFound("no captured messages")
    try:
        raw = mailbox.Maildir(folder, create=False).get_bytes(key)
    except KeyError:
        raise NotFound("no such captured message") from None
    message = _parse(raw)
    origin = _origin(message)
    owner = _projects([origin]).get(origin) if origin is not None else None
    if owner != project_id and not (unmapped and owner is None):
        raise NotFound("no such captured message")
    return message


def message_bodies(message: EmailMessage) -> tuple[str | None, str | None]:
    """The HTML and plain-text parts of a message (None when absent)."""
    html = message.get_body(preferencelist=("html",))
    text = message.get_body(preferencelist=("plain",))
    return (
        html.get_content() if html is not None else None,
        text.get_content() if text is not None else None,
    )
