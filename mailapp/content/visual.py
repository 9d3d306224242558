"""A visual document compiled to responsive email HTML: document -> MJML -> HTML, once.

MJML (mjml-python, the Rust port: no Node at run time) does the responsive work: columns
side by side from 480 px, stacked below, images scaled to the column. It runs when a version
is saved (content.templates), never per recipient; the HTML it makes then goes through the
same preparation as hand-written HTML (content.submission). Personalization tags are swapped
for inert placeholders before MJML sees the markup and put back after, so a `{{ ... }}` in a
text or a link comes out exactly as written. Social links are text links, not icons: icons
would be remote images most clients block by default.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

import bleach
from mjml import mjml2html

from mailapp.content.blocks import RICH_TAGS
from mailapp.content.brand import Brand
from mailapp.content.htmlprep import JINJA_RE, protect_jinja

PLACEHOLDER_RE = re.compile(r"mjv(\d+)vjm")
HEADING_SIZES = {1: 28, 2: 22, 3: 18}
NETWORK_NAMES = {
    "facebook": "Facebook", "instagram": "Instagram", "linkedin": "LinkedIn", "x": "X",
    "youtube": "YouTube", "tiktok": "TikTok", "mastodon": "Mastodon", "website": "Website",
}  # fmt: skip
MUTED = "#666666"
RULE = "#e5e5e5"


class _Tags:
    """Personalization tags set aside while MJML runs."""

    def __init__(self) -> None:
        self.pieces: list[str] = []

    def hide(self, source: str) -> str:
        def swap(match: re.Match[str]) -> str:
            self.pieces.append(match[0])
            return f"mjv{len(self.pieces) - 1}vjm"

        return JINJA_RE.sub(swap, source)

    def text(self, value: Any) -> str:
        """Plain text, escaped for MJML's markup, with its tags set aside."""
        return escape(self.hide(str(value or "")), quote=True)

    def restore(self, html: str) -> str:
        return PLACEHOLDER_RE.sub(lambda m: self.pieces[int(m[1])], html)


def document_to_mjml(doc: dict[str, Any], brand: Brand) -> str:
    """The MJML for a (checked) document, styled with the brand."""
    return _to_mjml(doc, brand, _Tags())


def compile_document(doc: dict[str, Any], brand: Brand) -> str:
    """Responsive email HTML for a (checked) document, its Jinja tags intact."""
    tags = _Tags()
    return tags.restore(mjml2html(_to_mjml(doc, brand, tags)))


def _to_mjml(doc: dict[str, Any], brand: Brand, tags: _Tags) -> str:
    font = escape(brand.font_stack, quote=True)
    head = (
        '<mj-head><mj-breakpoint width="480px" /><mj-attributes>'
        f'<mj-all font-family="{font}" />'
        f'<mj-text color="{brand.text}" font-size="16px" line-height="24px" padding="8px 24px" />'
        '<mj-image padding="8px 24px" /><mj-button padding="8px 24px" />'
        "</mj-attributes><mj-style>"
        f".rich a {{ color: {brand.primary} }} .rich p {{ margin: 0 0 12px }} "
        ".rich ul, .rich ol { margin: 0 0 12px; padding-left: 24px }"
        ".footer a { color: " + MUTED + " }"
        "</mj-style></mj-head>"
    )
    body = [f'<mj-body width="{brand.width}px" background-color="{brand.background}">']
    if brand.logo_url:
        body.append(
            f'<mj-section background-color="{brand.content_background}" padding="16px 0 0">'
            f'<mj-column><mj-image src="{escape(brand.logo_url, quote=True)}" '
            'alt="{{ project.name }}" width="160px" fluid-on-mobile="true" />'
            "</mj-column></mj-section>"
        )
    for section in doc["sections"]:
        background = section.get("background") or brand.content_background
        body.append(f'<mj-section background-color="{background}" padding="8px 0">')
        for column in section["columns"]:
            body.append("<mj-column>")
            body.extend(_block(block, brand, tags) for block in column["blocks"])
            body.append("</mj-column>")
        body.append("</mj-section>")
    body.append("</mj-body>")
    return f"<mjml>{tags.hide(head)}{''.join(body)}</mjml>"


def _block(block: dict[str, Any], brand: Brand, tags: _Tags) -> str:
    kind, align = block["type"], block.get("align") or "left"
    if kind == "heading":
        level = block.get("level") or 1
        size = HEADING_SIZES[level]
        return (
            f'<mj-text align="{align}" font-size="{size}px" line-height="{size + 6}px">'
            f'<h{level} style="margin:0;font-size:{size}px;line-height:{size + 6}px;'
            f'font-weight:bold">{tags.text(block["text"])}</h{level}></mj-text>'
        )
    if kind == "text":
        rich = tags.hide(_balanced(block["html"]))
        return f'<mj-text align="{align}"><div class="rich">{rich}</div></mj-text>'
    if kind == "image":
        width = min(int(block.get("width") or brand.width), brand.width)
        alt = "" if block.get("decorative") else block.get("alt")
        link = f' href="{tags.text(block["href"])}"' if block.get("href") else ""
        return (
            f'<mj-image src="{tags.text(block["src"])}" alt="{tags.text(alt)}"{link} '
            f'width="{width}px" align="{block.get("align") or "center"}" fluid-on-mobile="true" />'
        )
    if kind == "button":
        color = block.get("color") or brand.primary
        return (
            f'<mj-button href="{tags.text(block["href"])}" align="{align}" '
            f'background-color="{color}" color="#ffffff" font-size="16px" font-weight="bold" '
            f'inner-padding="12px 24px" border-radius="4px">{tags.text(block["label"])}</mj-button>'
        )
    if kind == "divider":
        return f'<mj-divider border-color="{RULE}" border-width="1px" padding="12px 24px" />'
    if kind == "spacer":
        return f'<mj-spacer height="{int(block["height"])}px" />'
    if kind == "social":
        links = " &middot; ".join(
            f'<a href="{tags.text(link["href"])}">{NETWORK_NAMES[link["network"]]}</a>'
            for link in block["links"]
        )
        return f'<mj-text align="{align}"><div class="rich">{links}</div></mj-text>'
    if kind == "footer":
        return _footer(block, tags)
    raise ValueError(f"unknown block type {kind!r}")  # check_document refuses it first


def _balanced(html: str) -> str:
    """Checked rich text (content.blocks) with every tag closed, so that an unclosed <b>
    cannot run into the next block; nothing else changes (only allowed tags are left)."""
    protected = protect_jinja(html)
    clean = bleach.clean(
        protected.html,
        tags=RICH_TAGS,
        attributes={"a": ["href"]},
        protocols=["http", "https", "mailto", "tel"],
        strip_comments=False,
    )
    return protected.restore(clean)


def _footer(block: dict[str, Any], tags: _Tags) -> str:
    extra = f"{tags.text(block['text'])}<br>" if (block.get("text") or "").strip() else ""
    links = tags.hide(
        '<a href="{{ view_in_browser_url }}">View in your browser</a> &middot; '
        '<a href="{{ unsubscribe_url }}">Unsubscribe</a>'
    )
    why = tags.hide("You receive this email because you subscribed to {{ project.name }}.")
    address = tags.hide("{{ project.postal_address }}")
    return (
        f'<mj-text align="center" font-size="13px" line-height="20px" color="{MUTED}" '
        f'padding="16px 24px"><div class="footer">{extra}{why}<br>{address}<br>{links}</div>'
        "</mj-text>"
    )
