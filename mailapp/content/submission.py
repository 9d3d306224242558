"""What an author submits for a template version, and the checks it must pass to be saved.

Every part must compile, name only the variables authors have (rendering.AUTHOR_VARIABLES)
and survive sanitizing; the HTML is stored sanitized and CSS-inlined. New templates start
from a starter layout (`starters`) that already has what marketing mail needs in its footer.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from mailapp.content.blocks import check_document
from mailapp.content.brand import DEFAULT_BRAND, Brand
from mailapp.content.htmlprep import PrepareError, sanitize_html
from mailapp.content.jinja_checks import Problem, check_source
from mailapp.content.starters import DEFAULT_STARTER, MARKETING_STARTERS, TRANSACTIONAL_HTML
from mailapp.content.visual import compile_document
from mailapp.content.visual_starters import VISUAL_STARTERS
from mailapp.errors import ServiceError
from mailapp.models import TemplateKind

LOCALE_RE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")
PARTS = ("subject", "preheader", "html", "text")


@dataclass
class Content:
    """What an author submits for one version."""

    subject: str
    html: str
    text: str | None = None
    preheader: str | None = None
    locale: str = "en"
    # {"de": {"subject": ..., "preheader": ..., "html": ..., "text": ...}}; a variant may
    # carry its own "document" instead of "html"
    locale_variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The visual editor's document (content.blocks); when set, `html` is compiled from it.
    document: dict[str, Any] | None = None


class TemplateRefused(ServiceError):
    """The content does not compile or breaks a rule; `problems` says where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def prepare_content(content: Content, brand: Brand = DEFAULT_BRAND) -> Content:
    """Check every part and return the content with sanitized, CSS-inlined HTML.

    A visual document (the base's or a variant's) is checked and compiled with `brand`
    first; its HTML then goes through the same checks as hand-written HTML.
    """
    problems: list[Problem] = []
    if not LOCALE_RE.match(content.locale):
        problems.append(Problem("locale", None, f"{content.locale!r} is not a locale code"))
    parts = _parts(content)
    if content.document is not None:
        parts["html"] = _compiled(content.document, brand, "", problems)
    base = _prepare_parts(parts, "", problems, refused_document=content.document is not None)
    variants: dict[str, dict[str, Any]] = {}
    for locale, given in (content.locale_variants or {}).items():
        if not LOCALE_RE.match(locale):
            problems.append(Problem("locale", None, f"{locale!r} is not a locale code"))
            continue
        unknown = set(given) - set(PARTS) - {"document"}
        if unknown:
            problems.append(Problem(f"{locale}", None, f"unknown parts {sorted(unknown)}"))
        wanted = {k: v for k, v in given.items() if k in PARTS and v}
        document = given.get("document")
        if document is not None:
            wanted["html"] = _compiled(document, brand, f"{locale}.", problems)
        prepared: dict[str, Any] = _prepare_parts(wanted, f"{locale}.", problems)
        if document is not None:
            prepared["document"] = document
        if prepared:
            variants[locale] = prepared
    if problems:
        raise TemplateRefused(problems)
    return Content(
        subject=base["subject"],
        html=base["html"],
        text=base.get("text") or None,
        preheader=base.get("preheader") or None,
        locale=content.locale,
        locale_variants=variants,
        document=content.document,
    )


def _compiled(document: Any, brand: Brand, prefix: str, problems: list[Problem]) -> str:
    """The document's HTML, or "" (and its problems noted) when it does not validate."""
    found = check_document(document)
    if found:
        problems.extend(Problem(prefix + p.part, p.line, p.reason) for p in found)
        return ""
    try:
        return compile_document(document, brand)
    except ValueError as exc:  # MJML's parser; checked documents should never get here
        problems.append(Problem(prefix + "document", None, f"cannot be compiled: {exc}"))
        return ""


def _parts(content: Content) -> dict[str, str]:
    return {
        "subject": content.subject.strip(),
        "preheader": (content.preheader or "").strip(),
        "html": content.html,
        "text": content.text or "",
    }


def _prepare_parts(
    parts: dict[str, str], prefix: str, problems: list[Problem], *, refused_document: bool = False
) -> dict[str, str]:
    if not prefix:  # the base version needs these; a variant falls back to them
        if not parts["subject"]:
            problems.append(Problem("subject", None, "a subject is required"))
        if not parts["html"].strip() and not refused_document:  # that one says why
            problems.append(Problem("html", None, "the HTML part is empty"))
    out: dict[str, str] = {}
    for name, source in parts.items():
        if not source:
            continue
        found = check_source(source, html=name == "html", part=prefix + name)
        problems.extend(found)
        if name == "html" and not found:
            try:
                source = sanitize_html(source)
            except PrepareError as exc:
                problems.append(Problem(prefix + name, exc.line, str(exc)))
        if name == "subject" and len(source) > 998:
            problems.append(Problem(prefix + name, None, "longer than 998 characters"))
        out[name] = source
    return out


def starter_content(kind: TemplateKind, starter: str | None = None) -> Content:
    """What a new template starts from: a gallery starter (HTML or visual, marketing) or the
    transactional one (or the visual receipt, when asked for by its key)."""
    visual = VISUAL_STARTERS.get(starter or "")
    if visual is not None:
        return Content(
            subject=visual.subject,
            html="",
            preheader=visual.preheader,
            document=copy.deepcopy(visual.document),
        )
    if kind is not TemplateKind.MARKETING:
        return Content(subject="Untitled", html=TRANSACTIONAL_HTML)
    chosen = MARKETING_STARTERS.get(starter or DEFAULT_STARTER)
    if chosen is None:
        raise ServiceError(f"starter: there is no starter layout {starter!r}")
    return Content(subject=chosen.subject, html=chosen.html)
