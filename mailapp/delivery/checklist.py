"""A line of the launch checklist: its key, whether it passed, whether a failure blocks."""

from __future__ import annotations

from dataclasses import dataclass

# What each check is called on the review page.
LABELS = {
    "content": "Content",
    "subject": "Subject line",
    "unsubscribe_link": "Unsubscribe link",
    "links": "Links",
    "size": "Message size",
    "image_weight": "Images",
    "sender": "Sender",
    "from": "From address",
    "reply_to": "Reply-to address",
    "dkim": "Signature (DKIM)",
    "spf": "Sender authorisation (SPF)",
    "dmarc": "Domain policy (DMARC)",
    "bounce_domain": "Bounce handling",
    "tracking": "Tracking links",
    "postal_address": "Postal address",
    "why_line": "Why they receive it",
    "audience": "Audience",
    "schedule": "Schedule",
}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    blocking: bool
    message: str

    @property
    def label(self) -> str:
        """The check's name in plain words."""
        return LABELS.get(self.name, self.name.replace("_", " ").capitalize())

    @property
    def level(self) -> str:
        """ok, error (blocks the launch) or warning."""
        return "ok" if self.ok else ("error" if self.blocking else "warning")
