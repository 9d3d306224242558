"""Turns one recipient of a frozen campaign (or one transactional message) into signed
bytes: render, tracking rewrite, headers, MIME skeleton fill, DKIM signature.

A Composer is built once per send batch: content compiled once per version and locale
(cached by content.rendering), one MIME skeleton for the sender, one DKIM signer; per
recipient only the cheap parts run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from mailapp.content.links import add_open_pixel, rewrite_links, rewrite_text_links
from mailapp.content.rendering import (
    CompiledContent,
    RenderedContent,
    compile_content,
    render_content,
    template_context,
)
from mailapp.content.utm import utm_url
from mailapp.mail.dkim import DkimSigner
from mailapp.mail.mime import SLOT, MessageSkeleton, make_message_id
from mailapp.models import Campaign, Project, Sender, TemplateVersion
from mailapp.urls import Kind, LinkSigner


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
    subject: str | None = None  # Jinja replacing the version's subject (A/B subject lines)


def link_rewriter(
    signer: LinkSigner,
    item_id: int,
    link_ids: dict[str, int],
    *,
    track_clicks: bool,
    utm: dict,
    campaign: Campaign | None,
) -> Callable[[int, str], str | None]:
    """What each link of one message becomes: stored links a signed click URL (the
    redirect adds the UTM rule), or with tracking off the URL with the UTM rule; links
    made by Jinja (unsubscribe ...) stay as written."""

    made: dict[str, str | None] = {}  # a URL's second use (the text part) signs nothing

    def click_url(_position: int, url: str) -> str | None:
        if url not in made:
            made[url] = _target(url)
        return made[url]

    def _target(url: str) -> str | None:
        link_id = link_ids.get(url)
        if link_id is None:
            return None
        if track_clicks:
            return signer.click_url(item_id, link_id)
        if utm and campaign is not None:
            return utm_url(url, utm, campaign.id, campaign.name, link_id)
        return None

    return click_url


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
    # render_content here; content.isolation's render_isolated for transactional messages
    render: Callable[[CompiledContent, dict], RenderedContent] = render_content

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
        rewrite = link_rewriter(
            self.signer,
            item_id,
            self.link_ids,
            track_clicks=self.track_clicks,
            utm=self.utm,
            campaign=self.campaign,
        )

        def slotted(position: int, url: str) -> str | None:
            # Marked for the skeleton: the text around it is encoded once, not per recipient.
            new = rewrite(position, url)
            return None if new is None else f"{SLOT}{new}{SLOT}"

        return slotted

    def compose(
        self,
        item_id: int,
        contact: Addressee,
        key: str,
        data: dict | None = None,
        event: dict | None = None,
    ) -> Composed:
        variant = self.variants[key]
        compiled = compile_content(variant.version, contact.locale, variant.subject)
        unsubscribe_url = self.signer.unsubscribe_url(item_id)
        context = template_context(
            contact,
            unsubscribe_url=unsubscribe_url,
            view_url=self.signer.view_url(item_id),
            campaign=self.campaign,
            project=self.project,
            data=data,
            event=event,
        )
        rendered = self.render(compiled, context)
        click_url = self._click_url(item_id)
        html = rewrite_links(rendered.html, click_url)
        if self.track_opens:
            html = add_open_pixel(html, f"{SLOT}{self.signer.open_url(item_id)}{SLOT}")
        message_id = make_message_id(self.kind, item_id, self.sender.domain)
        mail_from = self.signer.verp_address(item_id, self.bounce_domain)
        headers = {
            "To": contact.email,
            "Subject": rendered.subject,
            "Message-ID": message_id,
        }
        if self.marketing:
            headers["List-Unsubscribe"] = (
                f"<{unsubscribe_url}>, <mailto:{mail_from}?subject=unsubscribe>"
            )
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        text = rewrite_text_links(rendered.text, click_url)
        message = self._skeleton.render(headers, html, text)
        if self._dkim is not None:
            message = self._dkim.sign(message, skeleton=True)
        return Composed(mail_from, contact.email, message, message_id)
