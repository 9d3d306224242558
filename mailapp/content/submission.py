"""What an author submits for a template version, and the checks it must pass to be saved.

Every part must compile, name only the variables authors have (rendering.AUTHOR_VARIABLES)
and survive sanitizing; the HTML is stored sanitized and CSS-inlined. New templates start
from a starter layout (`starters`) that already has what marketing mail needs in its footer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mailapp.content.htmlprep import PrepareError, sanitize_html
from mailapp.content.jinja_checks import Problem, check_source
from mailapp.content.starters import DEFAULT_STARTER, MARKETING_STARTERS, TRANSACTIONAL_HTML
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
    # {"de": {"subject": ..., "preheader": ..., "html": ..., "text": ...}}
    locale_variants: dict[str, dict[str, str]] = field(default_factory=dict)


class TemplateRefused(ServiceError):
    """The content does not compile or breaks a rule; `problems` says where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def prepare_content(content: Content) -> Content:
    """Check every part and return the content with sanitized, CSS-inlined HTML."""
    problems: list[Problem] = []
    if not LOCALE_RE.match(content.locale):
        problems.append(Problem("locale", None, f"{content.locale!r} is not a locale code"))
    base = _prepare_parts(_parts(content), "", problems)
    variants: dict[str, dict[str, str]] = {}
    for locale, parts in (content.locale_variants or {}).items():
        if not LOCALE_RE.match(locale):
            problems.append(Problem("locale", None, f"{locale!r} is not a locale code"))
            continue
        unknown = set(parts) - set(PARTS)
        if unknown:
            problems.append(Problem(f"{locale}", None, f"unknown parts {sorted(unknown)}"))
        prepared = _prepare_parts(
            {k: v for k, v in parts.items() if k in PARTS and v}, f"{locale}.", problems
        )
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
    )


def _parts(content: Content) -> dict[str, str]:
    return {
        "subject": content.subject.strip(),
        "preheader": (content.preheader or "").strip(),
        "html": content.html,
        "text": content.text or "",
    }


def _prepare_parts(parts: dict[str, str], prefix: str, problems: list[Problem]) -> dict[str, str]:
    if not prefix:  # the base version needs these; a variant falls back to them
        if not parts["subject"]:
            problems.append(Problem("subject", None, "a subject is required"))
        if not parts["html"].strip():
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
    """What a new template starts from: a gallery starter (marketing) or the transactional one."""
    if kind is not TemplateKind.MARKETING:
        return Content(subject="Untitled", html=TRANSACTIONAL_HTML)
    chosen = MARKETING_STARTERS.get(starter or DEFAULT_STARTER)
    if chosen is None:
        raise ServiceError(f"starter: there is no starter layout {starter!r}")
    return Content(subject=chosen.subject, html=chosen.html)
