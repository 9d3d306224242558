"""Turns one recipient of a frozen campaign (or one transactional message) into signed
bytes: render, tracking rewrite, headers, MIME skeleton fill, DKIM signature.

A Composer is built once per send batch: content compiled once per version and locale
(cached by services.rendering), one MIME skeleton for the sender, one DKIM signer; per
recipient only the cheap parts run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from mailapp.models import Project, Sender, TemplateVersion
from mailapp.services.dkim import DkimSigner
from mailapp.services.mime import MessageSkeleton, make_message_id
from mailapp.services.rendering import (
    add_open_pixel,
    apply_utm,
    compile_content,
    render_content,
    rewrite_links,
    template_context,
)
from mailapp.services.urls import Kind, LinkSigner


class Addressee(Protocol):
    """A Contact, or a transactional recipient who is not one."""

    email: str
    locale: str | None


@dataclass(frozen=True)
class Composed:
    mail_from: str  # the VERP Return-Path
    rcpt_to: str
    data: bytes
    message_id: str


@dataclass(frozen=True)
class Variant:
    version: TemplateVersion
    subject: str | None = None  # overrides the version's subject (A/B on subject lines)


@dataclass
class Composer:
    kind: Kind
    project: Project
    sender: Sender
    signer: LinkSigner
    variants: dict[str, Variant]
    link_ids: dict[str, int] = field(default_factory=dict)  # the campaign's Link rows by URL
    campaign: object | None = None
    track_opens: bool = False
    track_clicks: bool = False
    utm: dict = field(default_factory=dict)
    list_id: str | None = None
    feedback_id: str | None = None
    marketing: bool = True

    def __post_init__(self) -> None:
        self._dkim = (
            DkimSigner(self.sender.domain, self.sender.dkim_selector, self.sender.dkim_private_key)
            if self.sender.dkim_selector and self.sender.dkim_private_key
            else None
        )
        constant = {"List-Id": self.list_id, "Feedback-ID": self.feedback_id}
        self._skeleton = MessageSkeleton.for_sender(
            self.sender, {k: v for k, v in constant.items() if v}
        )
        self.bounce_domain = self.sender.bounce_domain or self.sender.domain

    def _click_url(self, item_id: int) -> Callable[[int, str], str | None]:
        """Stored links become signed click URLs; links made by Jinja (unsubscribe ...)
        and links of untracked mail stay as written, with UTM parameters added."""

        def click_url(index: int, url: str) -> str | None:
            link_id = self.link_ids.get(url) if self.track_clicks else None
            if link_id is not None:
                return self.signer.click_url(item_id, link_id)
            if self.utm and url in self.link_ids:
                return apply_utm(url, self.utm)
            return None

        return click_url

    def compose(
        self, item_id: int, contact: Addressee, key: str, data: dict | None = None
    ) -> Composed:
        variant = self.variants[key]
        compiled = compile_content(variant.version, contact.locale)
        unsubscribe_url = self.signer.unsubscribe_url(item_id)
        context = template_context(
            contact,
            unsubscribe_url=unsubscribe_url,
            view_url="",
            campaign=self.campaign,
            project=self.project,
            data=data,
        )
        rendered = render_content(compiled, context)
        html = rewrite_links(rendered.html, self._click_url(item_id))
        if self.track_opens:
            html = add_open_pixel(html, self.signer.open_url(item_id))
        message_id = make_message_id(self.kind, item_id, self.sender.domain)
        mail_from = self.signer.verp_address(item_id, self.bounce_domain)
        headers = {
            "To": contact.email,
            "Subject": variant.subject or rendered.subject,
            "Message-ID": message_id,
        }
        if self.marketing:
            headers["List-Unsubscribe"] = (
                f"<{unsubscribe_url}>, <mailto:{mail_from}?subject=unsubscribe>"
            )
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message = self._skeleton.render(headers, html, rendered.text)
        if self._dkim is not None:
            message = self._dkim.sign(message)
        return Composed(mail_from, contact.email, message, message_id)
