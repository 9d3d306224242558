"""The click map: the campaign's email with each tracked link's clicks drawn on it.

The HTML is shown in a sandboxed iframe (no scripts, no same-origin), so whatever the
template holds cannot act in the back office.
"""

from __future__ import annotations

import html
import re

from mailapp.insights.reports import LinkClicks

_ANCHOR = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*(["'])(.*?)\2[^>]*>)""", re.IGNORECASE | re.DOTALL)
BADGE = (
    '<span data-link="{id}" style="display:inline-block;background:#dc3545;color:#fff;'
    "font:bold 11px/1.4 sans-serif;padding:0 4px;margin-right:3px;border-radius:3px;"
    'text-decoration:none">{clicks} · {share}%</span>'
)


def _key(url: str) -> str:
    # Stored links may carry UTM parameters the template's href does not.
    return html.unescape(url).split("?", 1)[0].split("#", 1)[0].rstrip("/")


def annotate(document: str, links: list[LinkClicks]) -> str:
    """The document with a badge (clicks and share of all human clicks) on each tracked link."""
    total = sum(link.clicks for link in links) or 1
    by_url = {link.url: link for link in links}
    by_key = {_key(link.url): link for link in reversed(links)}

    def badge(match: re.Match) -> str:
        href = html.unescape(match[3])
        link = by_url.get(href) or by_key.get(_key(href))
        if link is None:
            return match[0]
        share = round(100 * link.clicks / total)
        return match[0] + BADGE.format(id=link.id, clicks=f"{link.clicks:,}", share=share)

    return _ANCHOR.sub(badge, document)
