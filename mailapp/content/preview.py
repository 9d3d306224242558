"""Preview a template version as a recipient would see it, and send it as a test.

A preview renders for a chosen contact of the project or a sample one; the admin shows it
in a sandboxed iframe (no scripts, no same-origin) at 320, 600 and 800 px, light or dark.
A test send goes to at most MAX_TEST_RECIPIENTS addresses through the sender's transport,
signed like real mail, its subject marked "[TEST]". In a test mail and in the preview frame,
"view in browser" opens the version as rendered there, and the unsubscribe link a page
saying that a real send would unsubscribe there; both are signed and expire after
TEST_LINK_DAYS days.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app

from mailapp.access.audit import Actor, record_audit
from mailapp.content.isolation import render_isolated
from mailapp.content.rendering import RenderedContent, compile_content, template_context
from mailapp.content.templates import get_version
from mailapp.errors import NotFound, ServiceError
from mailapp.extensions import db
from mailapp.mail.dkim import signer_for
from mailapp.mail.mime import MessageSkeleton, make_message_id
from mailapp.mail.transports import SendResult, open_transport, transport_url_for
from mailapp.models import Contact, Project, Sender, TemplateVersion
from mailapp.tokens import BadToken, make_token, read_token

PREVIEW_WIDTHS = (320, 600, 800)
MAX_TEST_RECIPIENTS = 10
TEST_LINK_DAYS = 30
_TEST_LINK_MAX_AGE = TEST_LINK_DAYS * 86400  # seconds
TEST_PREFIX = "[TEST] "
SAMPLE_CONTACT = {
    "first_name": "Alex",
    "last_name": "Sample",
    "email": "alex.sample@example.com",
    "locale": None,
    "timezone": None,
    "attributes": {"city": "Springfield", "plan": "pro"},
}
# Forced dark mode as Gmail and Outlook apply it to mail without its own dark styles.
DARK_STYLE = (
    "<style>html{background:#fff;filter:invert(1) hue-rotate(180deg)}"
    "img,[style*='background-image']{filter:invert(1) hue-rotate(180deg)}</style>"
)


@dataclass(frozen=True)
class RecipientResult:
    address: str
    result: SendResult


@dataclass(frozen=True)
class PreviewCopy:
    """What a test message's view link names: the version, contact and locale it used."""

    version: TemplateVersion
    contact_id: int | None
    locale: str | None


def _locales(version: TemplateVersion) -> list[str]:
    return sorted(version.locale_variants or {})


def signed_test_links(version: TemplateVersion, contact_id: int | None, locale: str | None) -> dict:
    """The signed view and unsubscribe URLs of a test message (template_context keywords)."""
    config = current_app.config
    base, secret = config["BASE_URL"], config["SECRET_KEY"]
    known = _locales(version)
    locale_index = known.index(locale) + 1 if locale in known else 0
    view = make_token(
        secret, "test-view", version.id, contact_id or 0, locale_index, timestamped=True
    )
    unsubscribe = make_token(secret, "test-unsubscribe", version.id, timestamped=True)
    return {"view_url": f"{base}/v/{view}", "unsubscribe_url": f"{base}/u/{unsubscribe}"}


def read_test_view(token: str) -> PreviewCopy:
    """The test a view token names; BadToken when forged or expired, NotFound when the
    version is gone."""
    secret = current_app.config["SECRET_KEY"]
    version_id, contact_id, locale_index = read_token(
        secret, "test-view", token, count=3, max_age=_TEST_LINK_MAX_AGE
    )
    version = db.session.get(TemplateVersion, version_id)
    if version is None:
        raise NotFound("the version is gone")
    known = _locales(version)
    locale = known[locale_index - 1] if 0 < locale_index <= len(known) else None
    return PreviewCopy(version, contact_id or None, locale)


def is_test_unsubscribe(token: str) -> bool:
    """True for the unsubscribe link of a test message (signed, not expired)."""
    secret = current_app.config["SECRET_KEY"]
    try:
        read_token(secret, "test-unsubscribe", token, count=1, max_age=_TEST_LINK_MAX_AGE)
    except BadToken:
        return False
    return True


def preview_context(project: Project, contact: Any = None, links: dict | None = None) -> dict:
    base = current_app.config["BASE_URL"]
    links = links or {"unsubscribe_url": f"{base}/u/preview", "view_url": f"{base}/v/preview"}
    return template_context(
        contact if contact is not None else SAMPLE_CONTACT,
        campaign={"id": 0, "name": "Preview"},
        project=project,
        **links,
    )


def _contact(project: Project, contact_id: int | None) -> Contact | None:
    if contact_id is None:
        return None
    contact = db.session.scalar(
        sa.select(Contact).where(Contact.id == contact_id, Contact.project_id == project.id)
    )
    if contact is None:
        raise NotFound(f"no contact {contact_id}")
    return contact


def render_preview(
    project: Project,
    version: TemplateVersion,
    *,
    contact_id: int | None = None,
    locale: str | None = None,
    signed_links: bool = False,
) -> RenderedContent:
    """The version rendered for a contact of the project (or the sample contact); with
    `signed_links`, its view and unsubscribe links are the working ones of a test message."""
    contact = _contact(project, contact_id)
    links = signed_test_links(version, contact_id, locale) if signed_links else None
    locale = locale or (contact.locale if contact else None)
    # In a render process: an author's template must not hold the web worker.
    return render_isolated(
        compile_content(version, locale), preview_context(project, contact, links)
    )


def preview_document(html: str, *, dark: bool = False) -> str:
    """The HTML to put in the preview iframe's srcdoc, in the dark scheme when asked."""
    return html.replace("</head>", DARK_STYLE + "</head>", 1) if dark else html


def parse_recipients(raw: str | list[str]) -> list[str]:
    """Up to MAX_TEST_RECIPIENTS valid addresses from a list or comma/line separated text."""
    items = raw if isinstance(raw, list) else re.split(r"[,;\s]+", raw)
    addresses: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            normalized = validate_email(item, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ServiceError(f"{item}: {exc}") from None
        if normalized not in addresses:
            addresses.append(normalized)
    if not addresses:
        raise ServiceError("give at least one address")
    if len(addresses) > MAX_TEST_RECIPIENTS:
        raise ServiceError(f"a test goes to at most {MAX_TEST_RECIPIENTS} addresses")
    return addresses


def send_test(
    project: Project,
    version_id: int,
    recipients: str | list[str],
    *,
    sender_id: int,
    actor: Actor,
    contact_id: int | None = None,
    locale: str | None = None,
) -> list[RecipientResult]:
    """Render the version once and send it, marked as a test, to each address."""
    addresses = parse_recipients(recipients)
    version = get_version(project, version_id)
    sender = db.session.scalar(
        sa.select(Sender).where(Sender.id == sender_id, Sender.project_id == project.id)
    )
    if sender is None:
        raise NotFound(f"no sender {sender_id}")
    rendered = render_preview(
        project, version, contact_id=contact_id, locale=locale, signed_links=True
    )
    skeleton = MessageSkeleton.for_sender(sender, headers={"X-Mailapp-Test": "yes"})
    signer = signer_for(sender)
    mail_from = f"bounces@{sender.bounce_domain}" if sender.bounce_domain else sender.from_email
    transport = open_transport(transport_url_for(sender))
    results: list[RecipientResult] = []
    try:
        for address in addresses:
            message = skeleton.render(
                {
                    "To": address,
                    "Subject": TEST_PREFIX + rendered.subject,
                    "Message-ID": make_message_id(
                        f"test.{secrets.token_hex(6)}", version.id, sender.domain
                    ),
                },
                rendered.html,
                rendered.text,
            )
            data = signer.sign(message) if signer else message
            results.append(RecipientResult(address, transport.send(mail_from, address, data)))
    finally:
        transport.close()
    record_audit(
        actor,
        "template.test_send",
        project_id=project.id,
        obj=version,
        context={
            "template_id": version.template_id,
            "version": version.number,
            "recipients": len(addresses),
            "sent": sum(r.result.outcome == "sent" for r in results),
        },
    )
    db.session.commit()
    return results
