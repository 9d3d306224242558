"""Author HTML made fit to send, once per template version: sanitized, CSS inlined, as text.

Author HTML is Jinja, so the HTML tools must not see the Jinja: each `{{ }}`, `{% %}` and
`{# #}` is swapped for a placeholder first (an HTML comment between tags, so html5lib does
not move it out of a table; a bare word inside a tag, so it survives as an attribute value)
and swapped back afterwards. A placeholder that does not come back was in a place the
sanitizer removes (an attribute it does not allow, or between attributes), and the
template is refused rather than changed silently.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser

import bleach
import css_inline
from bleach.css_sanitizer import CSSSanitizer

from mailapp.content.mediacss import responsive_rules

JINJA_RE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
COMMENT_RE = re.compile(r"<!--.*?-->", re.DOTALL)
STYLE_RE = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.DOTALL | re.IGNORECASE)
DROP_RE = re.compile(
    r"<(script|head|title|noscript|template|iframe|object)\b.*?</\1\s*>|<link\b[^>]*>",
    re.DOTALL | re.IGNORECASE,
)
TBODY_RE = re.compile(r"</?tbody>")
PLACEHOLDER_RE = re.compile(r"<!--xjx(\d+)xjx-->|xjx(\d+)xjx")

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "address", "article", "b", "big", "blockquote", "br", "caption",
        "center", "code", "col", "colgroup", "dd", "div", "dl", "dt", "em", "figcaption",
        "figure", "font", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "i",
        "img", "li", "ol", "p", "pre", "s", "section", "small", "span", "strike", "strong",
        "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
    }
)  # fmt: skip
_COMMON = ["style", "class", "id", "align", "valign", "dir", "lang", "title", "role"]
_BOX = ["width", "height", "bgcolor", "background", "border"]
ALLOWED_ATTRIBUTES = {
    "*": _COMMON,
    "a": [*_COMMON, "href", "target", "rel", "name"],
    "img": [*_COMMON, "src", "alt", "width", "height", "border"],
    "table": [*_COMMON, *_BOX, "cellpadding", "cellspacing"],
    "td": [*_COMMON, *_BOX, "colspan", "rowspan", "nowrap"],
    "th": [*_COMMON, *_BOX, "colspan", "rowspan", "nowrap", "scope"],
    "tr": [*_COMMON, "bgcolor", "height"],
    "col": [*_COMMON, "span", "width"],
    "colgroup": [*_COMMON, "span", "width"],
    "font": [*_COMMON, "color", "face", "size"],
    "hr": [*_COMMON, "width", "size", "noshade"],
    "div": [*_COMMON, "bgcolor"],
}
ALLOWED_PROTOCOLS = frozenset({"http", "https", "mailto", "tel"})
ALLOWED_CSS = frozenset(
    {
        "background", "background-color", "background-image", "background-position",
        "background-repeat", "background-size", "border", "border-bottom", "border-collapse",
        "border-color", "border-left", "border-radius", "border-right", "border-spacing",
        "border-style", "border-top", "border-width", "color", "direction", "display",
        "float", "font", "font-family", "font-size", "font-style", "font-variant",
        "font-weight", "height", "letter-spacing", "line-height", "list-style",
        "list-style-type", "margin", "margin-bottom", "margin-left", "margin-right",
        "margin-top", "max-height", "max-width", "min-height", "min-width", "opacity",
        "overflow", "padding", "padding-bottom", "padding-left", "padding-right",
        "padding-top", "table-layout", "text-align", "text-decoration", "text-indent",
        "text-transform", "vertical-align", "visibility", "white-space", "width",
        "word-break", "word-spacing", "word-wrap", "mso-hide", "mso-line-height-rule",
        "mso-padding-alt", "mso-table-lspace", "mso-table-rspace", "-ms-text-size-adjust",
        "-webkit-text-size-adjust",
    }
)  # fmt: skip

_local = threading.local()


def _cleaner() -> bleach.Cleaner:
    """One Cleaner per thread: bleach's Cleaner keeps parser state and is not thread-safe."""
    if not hasattr(_local, "cleaner"):
        _local.cleaner = bleach.Cleaner(
            tags=ALLOWED_TAGS,
            attributes=ALLOWED_ATTRIBUTES,
            protocols=ALLOWED_PROTOCOLS,
            css_sanitizer=CSSSanitizer(allowed_css_properties=ALLOWED_CSS),
            strip=True,
            strip_comments=False,  # our placeholders are comments; author comments go earlier
        )
    return _local.cleaner


# Remote stylesheets are never fetched: saving a template must not reach the network.
_INLINER = css_inline.CSSInliner(
    keep_style_tags=False, keep_link_tags=False, load_remote_stylesheets=False
)


class PrepareError(ValueError):
    """The HTML cannot be prepared; the message says why, `line` where (when known)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Protected:
    html: str
    pieces: tuple[str, ...]
    lines: tuple[int, ...]  # line of each piece in the source

    def restore(self, text: str, *, strict: bool = True) -> str:
        """Put the Jinja back; when strict, every placeholder must come back."""
        seen: list[int] = []

        def put_back(match: re.Match[str]) -> str:
            index = int(match[1] or match[2])
            seen.append(index)
            return self.pieces[index]

        restored = PLACEHOLDER_RE.sub(put_back, text)
        lost = sorted(set(range(len(self.pieces))) - set(seen))
        if lost and strict:
            piece = self.pieces[lost[0]]
            raise PrepareError(
                f"{_snippet(piece)} sits where HTML is removed by sanitizing (between "
                "attributes, or in an attribute or tag that is not allowed); put it in "
                "an attribute value or between tags",
                self.lines[lost[0]],
            )
        return restored


def protect_jinja(source: str) -> Protected:
    """Swap Jinja constructs for placeholders the HTML tools leave in place."""
    pieces: list[str] = []
    lines: list[int] = []
    out: list[str] = []
    in_tag, quote, last = False, "", 0
    for match in JINJA_RE.finditer(source):
        in_tag, quote = _scan(source[last : match.start()], in_tag, quote)
        out.append(source[last : match.start()])
        out.append(f"xjx{len(pieces)}xjx" if in_tag else f"<!--xjx{len(pieces)}xjx-->")
        pieces.append(match[0])
        lines.append(source.count("\n", 0, match.start()) + 1)
        last = match.end()
    out.append(source[last:])
    return Protected("".join(out), tuple(pieces), tuple(lines))


def _scan(text: str, in_tag: bool, quote: str) -> tuple[bool, str]:
    """Whether the end of `text` is inside a start tag (and inside which quote)."""
    for i, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif in_tag:
            if char in "\"'":
                quote = char
            elif char == ">":
                in_tag = False
        elif char == "<" and text[i + 1 : i + 2].isalpha():
            in_tag = True
    return in_tag, quote


def sanitize_html(source: str) -> str:
    """Author HTML (Jinja) -> CSS inlined, allowlisted email HTML, Jinja intact."""
    # Author comments go (Outlook conditionals could hide anything); line numbers stay.
    source = COMMENT_RE.sub(lambda m: "\n" * m[0].count("\n"), source)
    protected = protect_jinja(source)
    html = protected.html
    css = "\n".join(STYLE_RE.findall(html))
    media = responsive_rules(css, ALLOWED_CSS) if "@media" in css else ""
    html = DROP_RE.sub("", STYLE_RE.sub("", html))
    try:
        html = _INLINER.inline_fragment(html, css) if css.strip() else html
    except css_inline.InlineError as exc:
        raise PrepareError(f"CSS cannot be inlined: {exc}") from None
    html = _cleaner().clean(html)
    if not re.search(r"<tbody\b", source, re.IGNORECASE):
        # The parsers add <tbody>; inside a Jinja loop over rows it would open once per row.
        html = TBODY_RE.sub("", html)
    html = protected.restore(html)
    # Media queries cannot be inlined; kept first, rendering puts them in the <head>.
    return f"<style>\n{media}\n</style>\n{html.lstrip()}" if media else html


def html_to_text(html: str) -> str:
    """A readable plain-text part from (Jinja) HTML: paragraphs, lists, links as 'text (url)'."""
    protected = protect_jinja(html)
    parser = _TextParser()
    parser.feed(protected.html)
    parser.close()
    return protected.restore(parser.text(), strict=False)


_BLOCK = frozenset(
    {"p", "div", "table", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "blockquote"}
    | {"section", "header", "footer", "article", "address", "pre", "hr", "center", "dl"}
)


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0  # depth inside display:none (the preheader)
        self.stack: list[tuple[str, bool]] = []
        self.href: list[str | None] = []
        self.link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag in ("br", "img", "hr", "col", "meta", "link"):
            self._void(tag, attr)
            return
        hides = (
            tag == "style" or "display:none" in (attr.get("style") or "").replace(" ", "").lower()
        )
        self.stack.append((tag, hides))
        self.hidden += hides
        if tag in _BLOCK:
            self.parts.append("\n\n" if tag not in ("tr", "table") else "\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag == "a":
            self.href.append(attr.get("href"))
            self.link_text.append("")

    def _void(self, tag: str, attr: dict[str, str | None]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "hr":
            self.parts.append("\n\n----------\n\n")
        elif tag == "img" and attr.get("alt") and not self.hidden:
            self._emit(attr["alt"] or "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._void(tag, dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            open_tag, hides = self.stack.pop()
            self.hidden -= hides
            if open_tag == "a" and self.href:
                href, text = self.href.pop(), self.link_text.pop().strip()
                if href and not href.startswith("mailto:") and unescape(href) != text:
                    self.parts.append(f" ({href})" if text else href)
            if open_tag == tag:
                break
        if tag in _BLOCK:
            self.parts.append("\n\n" if tag not in ("tr", "table") else "\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self._emit(re.sub(r"\s+", " ", data))

    def handle_comment(self, data: str) -> None:
        self.parts.append(f"<!--{data}-->")  # a Jinja placeholder; restored by the caller

    def _emit(self, text: str) -> None:
        self.parts.append(text)
        if self.link_text:
            self.link_text[-1] += text

    def text(self) -> str:
        lines = [line.strip() for line in "".join(self.parts).splitlines()]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def _snippet(piece: str) -> str:
    return piece if len(piece) <= 40 else piece[:37] + "..."
