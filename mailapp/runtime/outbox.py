"""The development capture server's Maildir (see mailapp.dev), read for the Outbox page."""

from __future__ import annotations

import mailbox
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from mailapp.errors import NotFound

OUTBOX_DIR = "outbox"  # under the instance folder; the capture server (mailapp.dev) writes it


@dataclass(frozen=True)
class CapturedSummary:
    key: str
    subject: str
    sender: str
    recipients: str
    captured_at: str
    size: int


def outbox_path(instance_path: str | Path) -> Path:
    return Path(instance_path) / OUTBOX_DIR


def _parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)


def list_captured(folder: Path, limit: int = 200) -> list[CapturedSummary]:
    """The newest captured messages first (headers only are parsed)."""
    if not (folder / "cur").is_dir():
        return []
    files: list[Path] = []
    for sub in ("new", "cur"):
        files.extend((folder / sub).iterdir())
    files.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    summaries = []
    for path in files[:limit]:
        key = path.name.split(":", 1)[0]
        with path.open("rb") as fh:
            head = BytesParser(policy=policy.default).parse(fh, headersonly=True)
        summaries.append(
            CapturedSummary(
                key=key,
                subject=str(head.get("Subject", "")),
                sender=str(head.get("X-Captured-Mail-From") or head.get("From", "")),
                recipients=str(head.get("X-Captured-Rcpt-To") or head.get("To", "")),
                captured_at=str(head.get("X-Captured-At", "")),
                size=path.stat().st_size,
            )
        )
    return summaries


def get_captured(folder: Path, key: str) -> EmailMessage:
    """One captured message by its Maildir key; NotFound for anything else."""
    if not (folder / "cur").is_dir():
        raise NotFound("no captured messages")
    try:
        raw = mailbox.Maildir(folder, create=False).get_bytes(key)
    except KeyError:
        raise NotFound("no such captured message") from None
    return _parse(raw)


def message_bodies(message: EmailMessage) -> tuple[str | None, str | None]:
    """The HTML and plain-text parts of a message (None when absent)."""
    html = message.get_body(preferencelist=("html",))
    text = message.get_body(preferencelist=("plain",))
    return (
        html.get_content() if html is not None else None,
        text.get_content() if text is not None else None,
    )
