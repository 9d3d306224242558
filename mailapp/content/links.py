"""Links in rendered parts: found, rewritten to tracked URLs, and the open pixel added."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Callable

# Links: `<a href>` and `<area href>` with an http(s) URL, in document order.
_LINK_RE = re.compile(
    r"""(<(?:a|area)\b[^>]*?\shref\s*=\s*)(["'])\s*(https?://[^"']*?)\s*\2""",
    re.IGNORECASE,
)


def extract_links(html: str) -> list[str]:
    """The trackable links of rendered HTML, in the order rewrite_links numbers them."""
    return [htmllib.unescape(match[3]) for match in _LINK_RE.finditer(html)]


def rewrite_links(html: str, click_url: Callable[[int, str], str | None]) -> str:
    """Replace each trackable link by click_url(position, url); None leaves it as it is."""
    position = -1

    def replace(match: re.Match[str]) -> str:
        nonlocal position
        position += 1
        new = click_url(position, htmllib.unescape(match[3]))
        if new is None:
            return match[0]
        return f"{match[1]}{match[2]}{htmllib.escape(new, quote=True)}{match[2]}"

    return _LINK_RE.sub(replace, html)


# Links in a text part: an http(s) URL up to white space or an angle bracket or quote.
# The lower-case pattern's literal prefix lets `re` skip ahead, ~6x faster over a long text
# part than IGNORECASE; that one is used only for a text with a scheme written otherwise.
_TEXT_LINK_RE = re.compile(r"""https?://[^\s<>"]+""")


_TEXT_LINK_ANY_CASE_RE = re.compile(_TEXT_LINK_RE.pattern, re.IGNORECASE)


_TRAILING = ".,;:!?'"


_CLOSERS = {")": "(", "]": "["}


def _text_link(candidate: str) -> str:
    """The URL without the sentence punctuation around it ("(see https://a.example/x).")."""
    while candidate:
        last = candidate[-1]
        opener = _CLOSERS.get(last)
        if last in _TRAILING or (opener and candidate.count(opener) < candidate.count(last)):
            candidate = candidate[:-1]
        else:
            break
    return candidate if candidate.partition("://")[2] else ""


def _text_links_in(text: str) -> re.Pattern[str]:
    """The lower-case pattern, unless some "://" follows another spelling ("HTTP", "Https")."""
    lower = text.count("http://") + text.count("https://")
    return _TEXT_LINK_RE if text.count("://") == lower else _TEXT_LINK_ANY_CASE_RE


def extract_text_links(text: str) -> list[str]:
    """The http(s) URLs of a text part, in order."""
    return [url for m in _text_links_in(text).finditer(text) if (url := _text_link(m[0]))]


def rewrite_text_links(text: str, click_url: Callable[[int, str], str | None]) -> str:
    """rewrite_links for a text part: each URL becomes click_url(position, url) or stays."""
    position = -1

    def replace(match: re.Match[str]) -> str:
        nonlocal position
        url = _text_link(match[0])
        if not url:
            return match[0]
        position += 1
        new = click_url(position, url)
        return match[0] if new is None else new + match[0][len(url) :]

    return _text_links_in(text).sub(replace, text)


def add_open_pixel(html: str, url: str) -> str:
    """Add a 1x1 tracking image at the end of the body."""
    pixel = (
        f'<img src="{htmllib.escape(url, quote=True)}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0">'
    )
    at = html.rfind("</body>")
    return html + pixel if at < 0 else f"{html[:at]}{pixel}{html[at:]}"
