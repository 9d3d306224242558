"""Every visual starter in headless Chromium: no sideways scrolling on a 320 px phone, and
its columns side by side on a desktop-wide window (MJML's media queries reached the <head>)."""

from __future__ import annotations

import pytest

from mailapp.content.rendering import compile_content, render_content, template_context
from mailapp.content.submission import prepare_content, starter_content
from mailapp.content.visual_starters import VISUAL_STARTERS
from mailapp.models import TemplateKind, TemplateVersion

pytestmark = pytest.mark.browser


def rendered(key: str) -> str:
    content = prepare_content(starter_content(TemplateKind.MARKETING, key))
    version = TemplateVersion(
        id=None, subject=content.subject, preheader=content.preheader, html=content.html,
        text=None, locale="en", locale_variants={},
    )  # fmt: skip
    context = template_context(
        {"first_name": "Bartholomew-Maximilian", "email": "b@example.org"},
        unsubscribe_url="https://mail.example.com/u/a-very-long-unsubscribe-token-0123456789",
        view_url="https://mail.example.com/v/a-very-long-view-token-0123456789",
        project={"name": "Acme", "postal_address": "1 Main Street, 12345 Springfield"},
    )
    return render_content(compile_content(version), context).html


def side_by_side(page) -> bool | None:
    """Whether the first multi-column section shows its columns on one line."""
    return page.evaluate(
        """() => {
        const cols = [...document.querySelectorAll('[class*="mj-column-per-"]')]
          .filter(c => !c.className.includes('per-100'));
        if (cols.length < 2) return null;
        return cols[0].getBoundingClientRect().top === cols[1].getBoundingClientRect().top;
    }"""
    )


@pytest.mark.parametrize("key", sorted(VISUAL_STARTERS))
def test_each_visual_starter_reads_at_320_px_and_spreads_out_on_a_desktop(browser, key):
    html = rendered(key)
    context = browser.new_context(viewport={"width": 320, "height": 640})
    try:
        page = context.new_page()
        page.route("**/*", lambda route: route.abort())  # placeholder images: no network
        page.set_content(html)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 320, f"{key} scrolls sideways at 320 px ({width} px wide)"
        columns = any(len(s["columns"]) > 1 for s in VISUAL_STARTERS[key].document["sections"])
        assert side_by_side(page) is (False if columns else None)  # stacked on the phone
        page.set_viewport_size({"width": 800, "height": 800})
        assert side_by_side(page) is (True if columns else None)
    finally:
        context.close()
