"""The template payloads of the issue 15 probe, and helpers the security tests share."""

from __future__ import annotations

import re
import time

from mailapp.access.apikeys import create_api_key
from mailapp.content.rendering import template_context
from tests.factories import TEST_ACTOR

LOOP = "{% set s = 'x' * 100000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}"
# name -> (template, the reason it is refused)
PAYLOADS = {
    "replace": (
        "{% set s='x'*1000 %}{{ (s|replace('x','x'*100000))|length }}",
        "replace would be longer than 1,000,000 characters",
    ),
    "center": ("{{ 'x'|center(100000000)|length }}", "center would be longer than"),
    "format": ("{{ '%10000000s'|format('x')|length }}", "format widths above 1000"),
    "percent": ("{{ ('%10000000s' % 'x')|length }}", "format widths above 1000"),
    "str.format": ("{{ '{:>10000000}'.format('x')|length }}", "format widths above 1000"),
    "concat": (
        "{% set s='x'*100000 %}{{ (s~s~s~s~s~s~s~s~s~s~s)|length }}",
        "a string longer than 1,000,000 characters",
    ),
    "power": ("{{ ((9**64)**64)**64 }}", "a number larger than 4096 bits"),
    "power-again": ("{{ (((9**64)**64)**64)**64 }}", "a number larger than 4096 bits"),
    "list": ("{{ ([1] * 1000000000)|length }}", "a list longer than 100,000 items"),
    "nested-lists": (
        "{% set s='x'*100000 %}{% set a=[s,s,s,s,s,s,s,s,s,s] %}{{ [a,a,a,a,a,a,a,a,a,a] }}",
        "a list printing as more than 1,000,000 characters",
    ),
    "silent-loop": (LOOP, "rendering took too long"),
    "buffered-output": (
        "{% set s='x'*100000 %}{% set b %}{% for c in s %}{{ s }}{% endfor %}{% endset %}",
        "more than 20,000,000 characters in all",
    ),
}


def context() -> dict:
    return template_context(
        {"email": "ann@example.org"}, unsubscribe_url="https://t/u", view_url="https://t/v"
    )


def assert_refused(text: str, reason: str, started: float, bound: float) -> None:
    """The refusal names its reason and came within `bound` seconds."""
    elapsed = time.monotonic() - started
    assert re.search(re.escape(reason), text), text[-2000:]
    assert elapsed < bound, f"took {elapsed:.1f} s"


def inline_message(client, project, html: str) -> int:
    """A transactional message with inline content, accepted through the API."""
    _, key = create_api_key(project.id, "probe", ["campaigns.send"], actor=TEST_ACTOR)
    response = client.post(
        "/api/v1/messages",
        json={"to": "ann@example.org", "content": {"subject": "Hi", "html": html}},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 201, response.json
    return response.json["id"]
