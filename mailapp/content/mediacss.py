"""The `@media` rules of an author's <style>, kept (sanitized) when the rest is inlined.

A media query cannot be inlined: without it a responsive layout (MJML's columns, an author's
own phone rules) shows only its one-size fallback. The rules kept are limited like a style
attribute (the sanitizer's property allowlist, no url(), no expression()), with plain
selectors and screen/width conditions only, and written back so that no `{#`/`{{` appears
(the stored HTML is a Jinja template).
"""

from __future__ import annotations

import re

import tinycss2
from bleach.css_sanitizer import CSSSanitizer

MEDIA_PRELUDE_RE = re.compile(r"^[a-z0-9\s():,.\-]+$", re.IGNORECASE)
SELECTOR_RE = re.compile(r"^[a-z0-9\s.#,>:_\-*]+$", re.IGNORECASE)
UNSAFE_VALUE_RE = re.compile(r"url\(|expression|javascript|\\|<|@import", re.IGNORECASE)
MAX_CHARS = 20_000  # Gmail drops a whole <style> beyond ~16 KB; more is not an email layout


def responsive_rules(css: str, allowed_properties: frozenset[str]) -> str:
    """The sanitized @media blocks of a stylesheet ("" when it has none)."""
    sanitizer = CSSSanitizer(allowed_css_properties=allowed_properties)
    blocks: list[str] = []
    for rule in tinycss2.parse_stylesheet(css, skip_whitespace=True, skip_comments=True):
        if rule.type != "at-rule" or rule.lower_at_keyword != "media" or rule.content is None:
            continue
        prelude = " ".join(tinycss2.serialize(rule.prelude).split())
        if not MEDIA_PRELUDE_RE.match(prelude) or "print" in prelude.lower():
            continue
        inner = _rules(tinycss2.serialize(rule.content), sanitizer)
        if inner:
            blocks.append(f"@media {prelude} {{\n{inner}\n}}")
    out = "\n".join(blocks)
    return out if len(out) <= MAX_CHARS else ""


def _rules(css: str, sanitizer: CSSSanitizer) -> str:
    lines: list[str] = []
    for rule in tinycss2.parse_stylesheet(css, skip_whitespace=True, skip_comments=True):
        if rule.type != "qualified-rule":
            continue
        selector = " ".join(tinycss2.serialize(rule.prelude).split())
        if not selector or not SELECTOR_RE.match(selector):
            continue
        declarations = [
            d
            for d in tinycss2.parse_declaration_list(
                rule.content, skip_whitespace=True, skip_comments=True
            )
            if d.type == "declaration" and not UNSAFE_VALUE_RE.search(tinycss2.serialize(d.value))
        ]
        text = "; ".join(
            f"{d.name}: {tinycss2.serialize(d.value).strip()}"
            + (" !important" if d.important else "")
            for d in declarations
        )
        clean = sanitizer.sanitize_css(text).strip()
        if clean:
            lines.append(f"{selector} {{ {clean} }}")
    return "\n".join(lines)
