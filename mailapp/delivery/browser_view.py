"""The "view in browser" copy of a message: `{BASE_URL}/v/<token>` (urls).

The page is the message itself, rendered again for its recipient exactly as the mail was
composed (delivery.compose): the delivery's own variant and locale, the same
personalization, the same signed click URLs (or UTM-tagged links when clicks are not
tracked). It carries no open pixel: reading the copy is not an open. Transactional messages
have a copy too, rendered from their template version (or inline content) and data, and
so do test sends (content.preview.signed_test_links): the version for the test's contact
and locale.

A token we did not sign is NotFound and tells nothing. A genuine token whose message is
gone (the delivery purged, the contact erased under GDPR, the content deleted) is
NoLongerAvailable: the page says so without saying why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import current_app

from mailapp.audience.gdpr import ERASED_DOMAIN
from mailapp.content.isolation import render_isolated
from mailapp.content.links import rewrite_links
from mailapp.content.preview import read_test_view, render_preview
from mailapp.content.rendering import (
    CompiledContent,
    RenderError,
    compile_content,
    template_context,
)
from mailapp.delivery.compose import link_rewriter
from mailapp.delivery.transactional_send import message_recipient, message_version
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.models import (
    Campaign,
    Contact,
    ContactStatus,
    Delivery,
    Link,
    Message,
    Project,
    Sender,
    Template,
    TemplateVersion,
)
from mailapp.tokens import BadToken, ExpiredToken
from mailapp.urls import Kind, LinkSigner, read_single

KINDS: tuple[Kind, ...] = ("delivery", "message")


class NoLongerAvailable(ServiceError):
    """The token is ours but the message can no longer be shown."""


def web_copy(token: str) -> str:
    """The browser copy (an HTML document) a view token names; NotFound or
    NoLongerAvailable otherwise."""
    secret = current_app.config["SECRET_KEY"]
    for kind in KINDS:
        try:
            item_id = read_single(secret, "view", token, kind)
        except BadToken:
            continue
        return _delivery_copy(item_id) if kind == "delivery" else _message_copy(item_id)
    return _test_copy(token)


def _test_copy(token: str) -> str:
    """A test message's copy: its version rendered again as the test rendered it."""
    try:
        test = read_test_view(token)
    except ExpiredToken:
        raise NoLongerAvailable("the test link expired") from None
    except (BadToken, NotFound):
        raise NotFound("no such message") from None
    template = db.session.get(Template, test.version.template_id)
    project = db.session.get(Project, template.project_id)
    try:
        rendered = render_preview(
            project, test.version, contact_id=test.contact_id, locale=test.locale, signed_links=True
        )
    except (NotFound, RenderError):
        raise NoLongerAvailable("the test's contact or content changed") from None
    return rendered.html


def _delivery_copy(delivery_id: int) -> str:
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None:
        raise NoLongerAvailable("the message was purged")
    contact = db.session.get(Contact, delivery.contact_id)
    campaign = db.session.get(Campaign, delivery.campaign_id)
    project = db.session.get(Project, delivery.project_id)
    if contact is None or contact.status == ContactStatus.ERASED:
        raise NoLongerAvailable("the recipient was erased")
    spec = next(
        (v for v in (campaign.snapshot or {}).get("variants", []) if v["key"] == delivery.variant),
        None,
    )
    version = db.session.get(TemplateVersion, spec["version_id"]) if spec else None
    if version is None:
        raise NoLongerAvailable("the content is gone")
    tracking = (project.settings or {}).get("tracking", "full")
    signer = LinkSigner.from_app("delivery", _tracking_domain(campaign.snapshot["sender"]["id"]))
    click_url = link_rewriter(
        signer,
        delivery.id,
        _link_ids(campaign),
        track_clicks=campaign.track_clicks and tracking != "off",
        utm=campaign.utm or {},
        campaign=campaign,
    )
    compiled = compile_content(version, contact.locale, spec["subject"])
    context = template_context(
        contact,
        unsubscribe_url=signer.unsubscribe_url(delivery.id),
        view_url=signer.view_url(delivery.id),
        campaign=campaign,
        project=project,
    )
    return _render(compiled, context, click_url)


def _tracking_domain(sender_id: int | None) -> str | None:
    """The host the message's links were on, so the web copy's links match the message's."""
    sender = db.session.get(Sender, sender_id) if sender_id else None
    return sender.tracking_domain if sender else None


def _link_ids(campaign: Campaign) -> dict[str, int]:
    """The campaign's stored links by the URL written in the content (as batches reads them)."""
    by_position = dict(
        db.session.execute(
            sa.select(Link.position, Link.id).where(Link.campaign_id == campaign.id)
        ).all()
    )
    urls = (campaign.snapshot or {}).get("links", [])
    return {url: by_position[p] for p, url in enumerate(urls) if p in by_position}


def _message_copy(message_id: int) -> str:
    message = db.session.get(Message, message_id)
    if message is None or message.recipient.endswith(f"@{ERASED_DOMAIN}"):
        raise NoLongerAvailable("the message was purged or its recipient erased")
    version = message_version(message)
    if version is None:
        raise NoLongerAvailable("the content is gone")
    recipient = message_recipient(message)
    signer = LinkSigner.from_app("message", _tracking_domain(message.sender_id))
    context = template_context(
        recipient,
        unsubscribe_url=signer.unsubscribe_url(message.id),
        view_url=signer.view_url(message.id),
        project=db.session.get(Project, message.project_id),
        data=message.data,
    )
    return _render(compile_content(version, recipient.locale), context, lambda _p, _u: None)


def _render(
    compiled: CompiledContent,
    context: dict[str, Any],
    click_url: Callable[[int, str], str | None],
) -> str:
    try:
        rendered = render_isolated(compiled, context)  # a public page: never hold the worker
    except RenderError as exc:
        # It rendered when it was sent; what changed since (a deleted attribute) is not
        # the reader's business.
        raise NoLongerAvailable(str(exc)) from None
    return rewrite_links(rendered.html, click_url)
