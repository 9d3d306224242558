"""The visual editor's document: sections of 1-3 columns of blocks, checked before it is saved.

The format is fixed in the editor contract (version 1): every problem names the block it is
in (`block s1/c1/b3 (image)`) and why, so the editor can point at it. Rich text is limited to
a few inline tags; anything else (a script, an event handler, a javascript: link) is refused,
never silently cleaned, so what the author sees is what is sent. Personalization tags in
any text are checked like a template's (content.jinja_checks).
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from typing import Any

from mailapp.content.htmlprep import JINJA_RE, protect_jinja
from mailapp.content.jinja_checks import Problem, check_source

BLOCK_TYPES: dict[str, dict[str, bool]] = {
    # field -> required
    "heading": {"text": True, "level": False, "align": False},
    "text": {"html": True, "align": False},
    "image": {
        "src": True, "asset_id": False, "alt": False, "decorative": False, "href": False,
        "width": False,
    },
    "button": {"label": True, "href": True, "align": False, "color": False},
    "divider": {},
    "spacer": {"height": True},
    "social": {"links": True, "align": False},
    "footer": {"text": False},
}  # fmt: skip
ALIGNS = ("left", "center", "right")
NETWORKS = ("facebook", "instagram", "linkedin", "x", "youtube", "tiktok", "mastodon", "website")
RICH_TAGS = frozenset({"p", "br", "strong", "b", "em", "i", "u", "a", "ul", "ol", "li"})
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
LINK_RE = re.compile(r"^(https?://\S+|mailto:\S+|tel:[0-9+()\s.-]+|xjx\S*)$")
SRC_RE = re.compile(r"^https?://[^\s\"'<>{}]+$")  # no tags: an image is the same for all
JINJA_TEXT_FIELDS = ("text", "html", "label", "alt", "href")
MAX_SECTIONS, MAX_BLOCKS, MAX_WIDTH = 60, 400, 720


def new_document() -> dict[str, Any]:
    """A blank document: a heading, a paragraph and the footer."""
    return {
        "version": 1,
        "sections": [
            {
                "id": "s1",
                "background": None,
                "columns": [
                    {
                        "id": "c1",
                        "blocks": [
                            {"id": "b1", "type": "heading", "text": "Your headline", "level": 1},
                            {"id": "b2", "type": "text", "html": "<p>Write your message here.</p>"},
                            {"id": "b3", "type": "footer", "text": ""},
                        ],
                    }
                ],
            }
        ],
    }


def iter_blocks(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every block with its path "s1/c1/b3", in document order."""
    return [
        (f"{s.get('id')}/{c.get('id')}/{b.get('id')}", b)
        for s in doc.get("sections") or []
        for c in s.get("columns") or []
        for b in c.get("blocks") or []
    ]


def check_document(doc: Any) -> list[Problem]:
    """Everything wrong with a document, each problem naming its section or block."""
    if not isinstance(doc, dict) or doc.get("version") != 1:
        return [Problem("document", None, "not an editor document (version 1)")]
    sections = doc.get("sections")
    if not isinstance(sections, list) or not sections:
        return [Problem("document", None, "the document has no sections")]
    if len(sections) > MAX_SECTIONS:
        return [Problem("document", None, f"more than {MAX_SECTIONS} sections")]
    problems: list[Problem] = []
    seen: set[str] = set()
    footers: list[int] = []
    count = 0
    for index, section in enumerate(sections):
        where = f"section {_id(section, index)}"
        if not isinstance(section, dict):
            problems.append(Problem(where, None, "a section must be an object"))
            continue
        _unique(section.get("id"), where, seen, problems)
        background = section.get("background")
        if background is not None and not _color(background):
            problems.append(Problem(where, None, "background must be a colour as #rrggbb"))
        columns = section.get("columns")
        if not isinstance(columns, list) or not 1 <= len(columns) <= 3:
            problems.append(Problem(where, None, "a section has 1 to 3 columns"))
            continue
        for column in columns:
            if not isinstance(column, dict) or not isinstance(column.get("blocks"), list):
                problems.append(Problem(where, None, "a column must have a list of blocks"))
                continue
            _unique(column.get("id"), f"{where} column", seen, problems)
            for block in column["blocks"]:
                count += 1
                part = _part(section, column, block)
                if not isinstance(block, dict):
                    problems.append(Problem(part, None, "a block must be an object"))
                    continue
                _unique(block.get("id"), part, seen, problems)
                if block.get("type") == "footer":
                    footers.append(index)
                problems.extend(check_block(block, part))
    if count > MAX_BLOCKS:
        problems.append(Problem("document", None, f"more than {MAX_BLOCKS} blocks"))
    if len(footers) != 1:
        problems.append(
            Problem("document", None, f"a document has exactly one footer block ({len(footers)})")
        )
    elif footers[0] != len(sections) - 1:
        problems.append(Problem("document", None, "the footer block must be in the last section"))
    return problems


def check_block(block: dict[str, Any], part: str) -> list[Problem]:
    """Problems of one block (fields, values, rich text, personalization tags)."""
    kind = block.get("type")
    if not isinstance(kind, str) or kind not in BLOCK_TYPES:
        return [Problem(part, None, f"unknown block type {kind!r}")]
    spec = BLOCK_TYPES[kind]
    reasons: list[str] = []
    for name in block.keys() - {"id", "type"} - spec.keys():
        reasons.append(f"unknown field {name!r}")
    for name, required in spec.items():
        if required and block.get(name) in (None, "", []):
            reasons.append(f"{name} is missing")
    reasons += [r for r in _values(kind, block) if r]
    problems = [Problem(part, None, r) for r in reasons]
    if not problems:
        for name, value in _tagged_fields(block):
            for found in check_source(value, html=True, part=part):
                problems.append(Problem(part, None, f"{name}: {found.reason}"))
    return problems


def _tagged_fields(block: dict[str, Any]) -> list[tuple[str, str]]:
    """The block's texts and links that hold personalization tags, with their field names."""
    fields = [(name, block.get(name)) for name in JINJA_TEXT_FIELDS]
    fields += [(f"{link['network']} link", link["href"]) for link in block.get("links") or []]
    return [(name, value) for name, value in fields if isinstance(value, str) and "{" in value]


def _values(kind: str, block: dict[str, Any]) -> list[str | None]:
    get = block.get
    out: list[str | None] = []
    if "align" in block:
        out.append(None if get("align") in ALIGNS else "align must be left, center or right")
    for name in ("text", "label", "alt"):
        if name in block and not isinstance(get(name), str | None):
            out.append(f"{name} must be text")
    if kind == "heading":
        out.append(None if get("level", 1) in (1, 2, 3) else "level must be 1, 2 or 3")
    elif kind == "text" and isinstance(get("html"), str):
        out.append(rich_text_problem(get("html")))
    elif kind == "text" and get("html") is not None:
        out.append("html must be text")
    elif kind == "image":
        out.append(_image(block))
    elif kind == "button":
        out.append(_link(get("href"), "href"))
        if get("color") is not None and not _color(get("color")):
            out.append("color must be a colour as #rrggbb")
    elif kind == "spacer":
        out.append(_integer(get("height"), 8, 96, "height"))
    elif kind == "social":
        out += _social(get("links"))
    return out


def _image(block: dict[str, Any]) -> str | None:
    if not isinstance(block.get("src"), str) or not SRC_RE.match(block["src"]):
        return "src must be an http(s) address of an image"
    if not block.get("decorative") and not str(block.get("alt") or "").strip():
        return "alt text is missing (describe the image, or mark it decorative)"
    asset_id = block.get("asset_id")
    if asset_id is not None and (not isinstance(asset_id, int) or isinstance(asset_id, bool)):
        return "asset_id must be a whole number or null"
    if block.get("width") is not None and _integer(block["width"], 1, MAX_WIDTH, "width"):
        return _integer(block["width"], 1, MAX_WIDTH, "width")
    return _link(block["href"], "href") if block.get("href") else None


def _social(links: Any) -> list[str | None]:
    if not isinstance(links, list):
        return ["links must be a list"]
    out: list[str | None] = []
    for link in links:
        if not isinstance(link, dict) or link.get("network") not in NETWORKS:
            out.append(f"each link needs a network, one of {', '.join(NETWORKS)}")
        else:
            out.append(_link(link.get("href"), f"{link['network']} link"))
    return out


def _link(value: Any, name: str) -> str | None:
    if isinstance(value, str) and value.strip().lower().startswith("javascript:"):
        return f"{name}: javascript: links are not allowed"
    # A tag may stand for the whole address or a part of it (a query value).
    if not isinstance(value, str) or not LINK_RE.match(JINJA_RE.sub("xjx", value.strip())):
        return f"{name} must start with https://, http://, mailto: or be a personalization tag"
    return None


def _integer(value: Any, low: int, high: int, name: str) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return f"{name} must be a whole number from {low} to {high}"
    return None


def _color(value: Any) -> bool:
    return isinstance(value, str) and bool(COLOR_RE.match(value))


def _id(obj: Any, index: int) -> str:
    return str(obj.get("id")) if isinstance(obj, dict) and obj.get("id") else f"#{index + 1}"


def _part(section: dict, column: dict, block: Any) -> str:
    kind = block.get("type") if isinstance(block, dict) else None
    bid = block.get("id") if isinstance(block, dict) else "?"
    return f"block {section.get('id')}/{column.get('id')}/{bid} ({kind})"


def _unique(value: Any, where: str, seen: set[str], problems: list[Problem]) -> None:
    if not isinstance(value, str) or not value:
        problems.append(Problem(where, None, "an id is missing"))
    elif value in seen:
        problems.append(Problem(where, None, f"the id {value!r} is used twice"))
    else:
        seen.add(value)


def rich_text_problem(html: str) -> str | None:
    """Why rich text is refused (None when it only has the allowed tags and links)."""
    parser = _RichText()
    parser.feed(protect_jinja(html).html)
    parser.close()
    return parser.problem


class _RichText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problem: str | None = None

    def _refuse(self, reason: str) -> None:
        self.problem = self.problem or reason

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "iframe", "object", "embed"):
            self._refuse(
                f"{'script' if tag == 'script' else f'<{tag}>'} is not allowed in rich text"
            )
            return
        if any(name.startswith("on") for name, _ in attrs):
            self._refuse("script is not allowed in rich text (an on… attribute)")
            return
        if tag not in RICH_TAGS:
            self._refuse(f"<{tag}> is not allowed in rich text")
            return
        for name, value in attrs:
            if tag != "a" or name != "href":
                self._refuse(f"the attribute {name!r} is not allowed in rich text")
            elif (
                re.sub(r"[\s\x00-\x1f]", "", unescape(value or ""))
                .lower()
                .startswith("javascript:")
            ):
                self._refuse("script is not allowed in rich text (a javascript: link)")
            elif not LINK_RE.match(value or ""):
                self._refuse("a link must start with https://, http:// or mailto:")

    handle_startendtag = handle_starttag
