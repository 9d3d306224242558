"""Pre-flight: what the content, the sender and the project must get right before a launch.

Each check says whether it passed and whether a failure blocks the launch or only warns;
`name` is its stable key, `label` what a marketer reads. The subject is measured as a
recipient reads it: rendered for a real contact of the audience (or the sample contact).
Blocking: what the law or the mailbox providers require (an unsubscribe link, a postal
address, a signed and bounce-handled sender whose DKIM record verifies and whose mail
aligns with DMARC in the last DNS check, valid addresses and links, a subject).
Warnings: what hurts delivery or reading but may be deliberate (length, size, weight,
a missing "why you receive this" line, which is recognized by wording and can be missed).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from jinja2 import nodes

from mailapp.content.htmlprep import html_to_text
from mailapp.content.preview import preview_context
from mailapp.content.rendering import HTML_ENV, RenderError, localized_parts, render_snippet
from mailapp.delivery.checklist import Check
from mailapp.delivery.preflight_dns import dkim_check, dns_checks
from mailapp.extensions import db
from mailapp.models import Asset, Contact, Project, Sender, TemplateKind, TemplateVersion

SUBJECT_MAX = 78  # beyond this most clients cut the subject in the inbox list
HTML_MAX_BYTES = 102 * 1024  # Gmail clips messages larger than this
IMAGE_WEIGHT_MAX = 1024 * 1024  # images referenced from the asset library, in total
HREF_RE = re.compile(r"""<(?:a|area)\b[^>]*?\shref\s*=\s*(["'])(.*?)\1""", re.IGNORECASE)
SRC_RE = re.compile(r"""<img\b[^>]*?\ssrc\s*=\s*(["'])(.*?)\1""", re.IGNORECASE)
WHY_RE = re.compile(
    r"you (?:are |were )?(?:receiv|get|got|sign|subscrib|opted|registered)\w*"
    r"|you'(?:re|ve) (?:receiv|getting|sign|subscrib)\w*|because you|why you"
    r"|sie erhalten|vous recevez|recibes|ricevi",
    re.IGNORECASE,
)


def content_checks(
    version: TemplateVersion,
    sender: Sender | None,
    project: Project,
    subject: str | None = None,
    contact: Contact | None = None,
) -> list[Check]:
    """The content part of the launch checklist, for the version in every locale it has
    (with `subject`, an A/B variant's, in place of the version's own); the subject is
    measured rendered for `contact` (the sample contact when None)."""
    marketing = version.template.kind == TemplateKind.MARKETING
    locales = [version.locale, *sorted(version.locale_variants or {})]
    variants = [(loc, localized_parts(version, loc)[1]) for loc in locales]
    if subject:
        variants = [(loc, parts | {"subject": subject}) for loc, parts in variants]
    checks = [_subject(variants, preview_context(project, contact))]
    if marketing:
        checks.append(_unsubscribe_link(variants))
    checks += [_links(variants), _size(variants), _image_weight(variants, project)]
    checks += _sender(sender)
    if marketing:
        checks += [_postal_address(variants, project), _why_line(variants)]
    return checks


def _where(locale: str, variants: list) -> str:
    return f" ({locale})" if len(variants) > 1 else ""


def _subject(variants: list[tuple[str, dict[str, str]]], context: dict) -> Check:
    for locale, parts in variants:
        try:
            subject = " ".join(render_snippet(parts["subject"], context, max_chars=998).split())
        except RenderError as exc:
            return Check(
                "subject",
                False,
                True,
                f"the subject cannot be shown{_where(locale, variants)}: {exc}",
            )
        if not subject:
            return Check("subject", False, True, f"the subject is empty{_where(locale, variants)}")
        if len(subject) > SUBJECT_MAX:
            return Check(
                "subject",
                False,
                False,
                f"the subject has {len(subject)} characters as a recipient reads it"
                f"{_where(locale, variants)}; inboxes show about {SUBJECT_MAX}",
            )
    return Check("subject", True, True, f"{len(subject)} characters as a recipient reads it")


def _names_used(source: str) -> set[str]:
    tree = HTML_ENV.parse(source)
    return {n.name for n in tree.find_all(nodes.Name)} | {
        f"{n.node.name}.{n.attr}"
        for n in tree.find_all(nodes.Getattr)
        if isinstance(n.node, nodes.Name)
    }


def _unsubscribe_link(variants: list) -> Check:
    for locale, parts in variants:
        if not any("unsubscribe_url" in href for _, href in HREF_RE.findall(parts["html"])):
            return Check(
                "unsubscribe_link",
                False,
                True,
                "no unsubscribe link: add "
                '<a href="{{ unsubscribe_url }}">Unsubscribe</a> to the footer'
                f"{_where(locale, variants)}",
            )
    return Check("unsubscribe_link", True, True, "unsubscribe link present")


def _links(variants: list) -> Check:
    bad: list[str] = []
    for _, parts in variants:
        for _, href in HREF_RE.findall(parts["html"]):
            href = href.strip()
            if "{{" in href or "{%" in href:
                continue  # filled per recipient; checked when rendered
            parsed = urlsplit(href)
            valid = (parsed.scheme in ("http", "https") and parsed.hostname) or (
                parsed.scheme in ("mailto", "tel") and parsed.path
            )
            if not valid:
                bad.append(href or '""')
    if bad:
        shown = ", ".join(sorted(set(bad))[:5])
        return Check(
            "links", False, True, f"links that do not start with https:// or http://: {shown}"
        )
    return Check("links", True, True, "every link is a full web address")


def _size(variants: list) -> Check:
    largest = max(len(parts["html"].encode()) for _, parts in variants)
    if largest > HTML_MAX_BYTES:
        return Check(
            "size",
            False,
            False,
            f"the HTML is {largest // 1024} KB; Gmail clips "
            f"messages over {HTML_MAX_BYTES // 1024} KB",
        )
    return Check("size", True, False, f"{largest // 1024 + 1} KB, under Gmail's clipping size")


def _image_weight(variants: list, project: Project) -> Check:
    keys = {
        src.rstrip("/").rsplit("/", 1)[-1]
        for _, parts in variants
        for _, src in SRC_RE.findall(parts["html"])
    }
    sizes = db.session.scalars(
        sa.select(Asset.size).where(Asset.project_id == project.id, Asset.storage_key.in_(keys))
    ).all()
    total = sum(sizes)
    if total > IMAGE_WEIGHT_MAX:
        return Check(
            "image_weight",
            False,
            False,
            f"images from the library weigh "
            f"{total // 1024} KB; keep them under {IMAGE_WEIGHT_MAX // 1024} KB",
        )
    return Check(
        "image_weight", True, False, f"{len(keys)} images, {total // 1024} KB from the library"
    )


def _valid_address(address: str | None) -> bool:
    try:
        validate_email(address or "", check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def _sender(sender: Sender | None) -> list[Check]:
    if sender is None:
        return [Check("sender", False, True, "Choose a sender (who the mail comes from)")]
    return [
        Check(
            "from",
            _valid_address(sender.from_email),
            True,
            f"{sender.from_email}"
            + (" is a valid address" if _valid_address(sender.from_email) else " is not valid"),
        ),
        Check(
            "reply_to",
            not sender.reply_to or _valid_address(sender.reply_to),
            True,
            (
                f"replies go to {sender.reply_to}"
                if _valid_address(sender.reply_to)
                else f"{sender.reply_to} is not a valid address"
            )
            if sender.reply_to
            else "replies go to the From address",
        ),
        dkim_check(sender),
        Check(
            "bounce_domain",
            bool(sender.bounce_domain),
            True,
            f"bounces go to {sender.bounce_domain}"
            if sender.bounce_domain
            else "the sender has no bounce (Return-Path) domain: set it on the sender",
        ),
        *dns_checks(sender),
    ]


def _postal_address(variants: list, project: Project) -> Check:
    address = (project.postal_address or "").strip()
    if not address:
        return Check(
            "postal_address",
            False,
            True,
            "the project has no postal address: set it under Settings → Project",
        )
    first_line = address.splitlines()[0].strip()
    for locale, parts in variants:
        if "project.postal_address" not in _names_used(parts["html"]) and (
            first_line not in parts["html"]
        ):
            return Check(
                "postal_address",
                False,
                True,
                "the footer does not show the postal "
                f"address ({{{{ project.postal_address }}}}){_where(locale, variants)}",
            )
    return Check("postal_address", True, True, "postal address in the footer")


def _why_line(variants: list) -> Check:
    for locale, parts in variants:
        if not WHY_RE.search(html_to_text(parts["html"])):
            return Check(
                "why_line",
                False,
                False,
                f'no "why you receive this" line found in the footer{_where(locale, variants)}',
            )
    return Check("why_line", True, False, 'a "why you receive this" line')
