"""The click map: the message as a recipient got it, each tracked link's clicks drawn on it.

The document comes from `insights.clickmap.recipient_copy`, whose stored links point at
`#link-<id>`; each gets a badge with its human clicks and share of all of them. The HTML is
shown in a sandboxed iframe (no scripts, no same-origin), so whatever the template holds
cannot act in the back office.
"""

from __future__ import annotations

import re

from mailapp.admin.charts import SERIES_COLORS
from mailapp.insights.reports import LinkClicks

_ANCHOR = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*(["'])#link-(\d+)\2[^>]*>)""", re.IGNORECASE)
BADGE = (
    '<span data-link="{id}" title="{clicks} clicks by people, {share}% of all" '
    'style="display:inline-block;background:{color};color:#fff;'
    "font:bold 11px/1.4 sans-serif;padding:0 4px;margin-right:3px;border-radius:3px;"
    'text-decoration:none">{clicks} · {share}%</span>'
)


def annotate(document: str, links: list[LinkClicks]) -> str:
    """The document with a badge (clicks and share of all human clicks) on each tracked link."""
    total = sum(link.clicks for link in links) or 1
    by_id = {link.id: link for link in links}

    def badge(match: re.Match) -> str:
        link = by_id.get(int(match[3]))
        if link is None:
            return match[0]
        share = round(100 * link.clicks / total)
        return match[0] + BADGE.format(
            color=SERIES_COLORS["click"], id=link.id, clicks=f"{link.clicks:,}", share=share
        )

    return _ANCHOR.sub(badge, document)
