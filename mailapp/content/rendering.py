"""Rendering a template version for one recipient (its links: `content.links`).

Authors write Jinja; it runs in the sandbox of `content.sandbox` (no attribute starting with
`_`, no unsafe callables, a size limit on every value, a deadline checked in loops and calls),
HTML autoescaped, with caps on output size and render time so that a template cannot stall or
flood a worker; `content.isolation` renders previews in a process it can kill. A version is
compiled once per locale and cached; compiled templates are immutable and shared by threads.

Variables an author may use are exactly those `template_context` builds (AUTHOR_VARIABLES);
saving a template that names anything else is refused (see content.templates).
"""

from __future__ import annotations

import hashlib
import html as htmllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, TemplateError
from jinja2 import Template as JinjaTemplate
from jinja2.sandbox import SecurityError

from mailapp.content.htmlprep import html_to_text
from mailapp.content.limits import RenderError, check_deadline, end_render, start_render
from mailapp.content.links import extract_links, extract_text_links
from mailapp.content.sandbox import LimitedSandbox
from mailapp.models import TemplateVersion

MAX_OUTPUT_CHARS = 2_000_000  # per part; Gmail clips at 102 KB, so this is only a safety cap
MAX_RENDER_SECONDS = 2.0

# What template_context provides; the only names a template may reference.
AUTHOR_VARIABLES: dict[str, frozenset[str] | None] = {
    "contact": frozenset({"first_name", "last_name", "email", "attributes", "locale", "timezone"}),
    "unsubscribe_url": frozenset(),
    "view_in_browser_url": frozenset(),
    "campaign": frozenset({"id", "name"}),
    "project": frozenset({"name", "postal_address"}),
    "data": None,  # transactional payload: any key
    "event": None,  # a journey's trigger or event data: any key (empty outside journeys)
}


def _environment(autoescape: bool) -> LimitedSandbox:
    # trim_blocks: a `{% for %}` on its own line leaves no blank line in a text part.
    env = LimitedSandbox(
        autoescape=autoescape,
        undefined=ChainableUndefined,
        trim_blocks=not autoescape,
        keep_trailing_newline=True,
    )
    env.globals.clear()  # no range/lipsum/dict/cycler/joiner/namespace in author templates
    return env


HTML_ENV = _environment(autoescape=True)
TEXT_ENV = _environment(autoescape=False)


@dataclass(frozen=True)
class CompiledContent:
    version_id: int | None
    locale: str
    subject: JinjaTemplate
    preheader: JinjaTemplate | None
    html: JinjaTemplate
    text: JinjaTemplate
    size: int  # characters of the HTML source, for size checks
    # http(s) links written literally (no Jinja): the HTML's in document order, then those
    # only the text part has. What a campaign stores as its Link rows before sending.
    links: tuple[str, ...]
    fingerprint: str  # changes whenever any part changes
    key: tuple  # what `recompile` builds it again from (in a render process)


@dataclass(frozen=True)
class RenderedContent:
    subject: str
    preheader: str
    html: str
    text: str


def localized_parts(version: TemplateVersion, locale: str | None) -> tuple[str, dict[str, str]]:
    """The locale actually used and the parts for it (a variant's missing parts fall back)."""
    parts = {
        "subject": version.subject,
        "preheader": version.preheader or "",
        "html": version.html,
        "text": version.text or "",
    }
    variants = version.locale_variants or {}
    for candidate in (locale, (locale or "").split("-")[0]):
        if candidate and candidate != version.locale and candidate in variants:
            variant = {k: v for k, v in variants[candidate].items() if k in parts and v}
            if "html" in variant and "text" not in variant:
                variant["text"] = ""  # generated from this locale's HTML, not the base text
            parts.update(variant)
            return candidate, parts
    return version.locale, parts


def compile_content(
    version: TemplateVersion, locale: str | None = None, subject: str | None = None
) -> CompiledContent:
    """Compile (and cache) a version's parts for a locale; variants fall back to the base.

    `subject` replaces the version's own (an A/B variant's subject line) in every locale.
    """
    used, parts = localized_parts(version, locale)
    if subject:
        parts["subject"] = subject
    return _compile(version.id, used, *(parts[k] for k in ("subject", "preheader", "html", "text")))


@lru_cache(maxsize=256)
def _compile(
    version_id: int | None, locale: str, subject: str, preheader: str, html: str, text: str
) -> CompiledContent:
    fingerprint = hashlib.sha256(
        "\x00".join((locale, subject, preheader, html, text)).encode()
    ).hexdigest()[:16]
    key = (version_id, locale, subject, preheader, html, text)
    text = text or html_to_text(html)
    links = dict.fromkeys(extract_links(html) + extract_text_links(text))  # first use wins
    try:
        return CompiledContent(
            version_id=version_id,
            locale=locale,
            subject=TEXT_ENV.from_string(subject),
            preheader=TEXT_ENV.from_string(preheader) if preheader else None,
            html=HTML_ENV.from_string(html),
            text=TEXT_ENV.from_string(text),
            size=len(html),
            links=tuple(url for url in links if "{" not in url),
            fingerprint=fingerprint,
            key=key,
        )
    except TemplateError as exc:
        raise RenderError(f"template does not compile: {exc}") from None


def recompile(*key: Any) -> CompiledContent:
    """The CompiledContent whose `key` this is (cached like compile_content)."""
    return _compile(*key)


def render_content(
    compiled: CompiledContent,
    context: Mapping[str, Any],
    *,
    max_chars: int = MAX_OUTPUT_CHARS,
    max_seconds: float = MAX_RENDER_SECONDS,
) -> RenderedContent:
    """Render every part for one recipient; RenderError when a cap is hit or a rule broken."""
    token = start_render(max_seconds)
    try:
        subject = " ".join(_run(compiled.subject, context, 998).split())
        preheader = (
            " ".join(_run(compiled.preheader, context, 500).split()) if compiled.preheader else ""
        )
        body = _run(compiled.html, context, max_chars)
        text = _run(compiled.text, context, max_chars)
    finally:
        end_render(token)
    return RenderedContent(subject, preheader, _document(body, subject, preheader), text)


@lru_cache(maxsize=1024)
def _snippet_template(source: str) -> JinjaTemplate:
    try:
        return TEXT_ENV.from_string(source)
    except TemplateError as exc:
        raise RenderError(f"does not compile: {exc}") from None


def render_snippet(
    source: str, context: Mapping[str, Any], *, max_chars: int, max_seconds: float = 0.1
) -> str:
    """Render a short author string (a UTM value) in the text sandbox, with the same caps."""
    token = start_render(max_seconds)
    try:
        return _run(_snippet_template(source), context, max_chars)
    finally:
        end_render(token)


def _run(template: JinjaTemplate, context: Mapping[str, Any], max_chars: int) -> str:
    chunks: list[str] = []
    total = 0
    try:
        for count, chunk in enumerate(template.generate(context)):
            total += len(chunk)
            if total > max_chars:
                raise RenderError(f"output larger than {max_chars} characters")
            if not count & 63:
                check_deadline()
            chunks.append(chunk)
    except SecurityError as exc:
        raise RenderError(f"refused by the sandbox: {exc}") from None
    except TemplateError as exc:
        raise RenderError(f"template error: {exc}") from None
    except (ArithmeticError, TypeError, ValueError, LookupError) as exc:
        raise RenderError(f"{type(exc).__name__}: {exc}") from None
    except RecursionError:
        raise RenderError("refused by the sandbox: macros call themselves too deeply") from None
    except MemoryError:
        raise RenderError("refused by the sandbox: out of memory") from None
    return "".join(chunks)


_HEAD = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    '<meta name="color-scheme" content="light dark">'
    '<meta name="supported-color-schemes" content="light dark">'
)
# Filler after the preheader stops clients showing body text in the inbox preview.
_PREHEADER_FILL = "&#847;&zwnj;&nbsp;" * 30


def _document(body: str, subject: str, preheader: str) -> str:
    hidden = (
        '<div style="display:none;max-height:0;overflow:hidden;mso-hide:all">'
        f"{htmllib.escape(preheader)}{_PREHEADER_FILL}</div>\n"
        if preheader
        else ""
    )
    return (
        f"{_HEAD}<title>{htmllib.escape(subject)}</title></head>\n"
        f'<body style="margin:0;padding:0">\n{hidden}{body}\n</body></html>\n'
    )


def template_context(
    contact: Any,
    *,
    unsubscribe_url: str,
    view_url: str,
    campaign: Any = None,
    project: Any = None,
    data: Mapping[str, Any] | None = None,
    event: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What a template sees for one recipient (a Contact, or any object/mapping alike)."""
    # Missing values are left out, so `{{ contact.first_name | default("there") }}` works.
    fields = {name: _field(contact, name) for name in AUTHOR_VARIABLES["contact"] or ()}
    return {
        "contact": {k: v for k, v in fields.items() if v not in (None, "")}
        | {"attributes": fields["attributes"] or {}},
        "unsubscribe_url": unsubscribe_url,
        "view_in_browser_url": view_url,
        "campaign": _pick(campaign, "campaign"),
        "project": _pick(project, "project"),
        "data": dict(data or {}),
        "event": dict(event or {}),
    }


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _pick(obj: Any, kind: str) -> dict[str, Any] | None:
    if obj is None:
        return None
    return {name: _field(obj, name) for name in AUTHOR_VARIABLES[kind] or ()}
