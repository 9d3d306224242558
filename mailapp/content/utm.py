"""UTM parameters by campaign rule: `{"utm_campaign": "{{ campaign.slug }}", ...}`.

A rule maps query parameter names to values an author writes in Jinja, rendered in the
same text sandbox as a subject line. The variables a value may use (UTM_VARIABLES):

    campaign.id     the campaign's id
    campaign.name   its name, as written
    campaign.slug   its name in lower case ASCII, runs of other characters made one "-"
    link.id         the stored Link's id (the same for every recipient)
    link.host       the link's host name ("shop.example.com")
    link.path       the link's path ("/spring/sale")

Only what is known from the stored link and its campaign is offered: the click redirect
resolves a link without loading the delivery, so per-recipient values (contact, variant)
would cost it a query per click.

The rule is applied where a link leaves the message for its target: by the click redirect
when the campaign tracks clicks, otherwise by the render, on the links stored for the
campaign. Parameters the author's URL already carries are kept (theirs win), the rest are
appended in name order, and the author's query string and fragment stay exactly as written.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import quote, urlsplit

from mailapp.content.jinja_checks import Problem, check_source
from mailapp.content.rendering import RenderError, render_snippet

log = logging.getLogger(__name__)

UTM_VARIABLES: dict[str, frozenset[str] | None] = {
    "campaign": frozenset({"id", "name", "slug"}),
    "link": frozenset({"id", "host", "path"}),
}
MAX_VALUE_CHARS = 200
_KEY_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def check_utm_rule(rule: object) -> list[Problem]:
    """Problems of a campaign's UTM rule: parameter names, and each value's Jinja."""
    if not rule:
        return []
    if not isinstance(rule, Mapping):
        return [Problem("utm", None, 'use {"utm_source": "...", "utm_campaign": "..."}')]
    problems: list[Problem] = []
    for key, value in rule.items():
        if not isinstance(key, str) or not _KEY_RE.match(key):
            problems.append(Problem("utm", None, f"{key!r} is not a query parameter name"))
        elif not isinstance(value, str):
            problems.append(Problem(f"utm {key}", None, "the value must be text"))
        else:
            problems += check_source(value, html=False, part=f"utm {key}", variables=UTM_VARIABLES)
    return problems


def slugify(text: str) -> str:
    """A URL-safe name: accents dropped, runs of other characters made one "-"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def utm_url(
    url: str, rule: Mapping[str, str], campaign_id: int, campaign_name: str, link_id: int
) -> str:
    """The link's URL with the campaign's UTM parameters added (the URL's own ones win)."""
    if not rule:
        return url
    return _utm_url(url, tuple(sorted(rule.items())), campaign_id, campaign_name, link_id)


# A link's target depends only on the link and its campaign, so it is computed once per
# process for the hot click path, not once per click.
@lru_cache(maxsize=4096)
def _utm_url(
    url: str,
    rule: tuple[tuple[str, str], ...],
    campaign_id: int,
    campaign_name: str,
    link_id: int,
) -> str:
    base, hash_, fragment = url.partition("#")
    parts = urlsplit(base)
    query = parts.query
    present = {pair.split("=", 1)[0] for pair in query.split("&") if pair}
    context = {
        "campaign": {"id": campaign_id, "name": campaign_name, "slug": slugify(campaign_name)},
        "link": {"id": link_id, "host": parts.hostname or "", "path": parts.path or "/"},
    }
    added = []
    for key, source in rule:
        if key in present or not source:
            continue
        value = _value(key, source, context)
        if value:
            added.append(f"{quote(key, safe='')}={quote(value, safe='')}")
    if not added:
        return url
    separator = "&" if query else ("" if base.endswith("?") else "?")
    return f"{base}{separator}{'&'.join(added)}{hash_}{fragment}"


def _value(key: str, source: str, context: Mapping[str, object]) -> str:
    if "{" not in source:
        return source
    try:
        return " ".join(render_snippet(source, context, max_chars=MAX_VALUE_CHARS).split())
    except RenderError as exc:
        # Rules are checked when saved; one that still fails loses that parameter only.
        log.warning("UTM parameter %s left out: %s", key, exc)
        return ""
