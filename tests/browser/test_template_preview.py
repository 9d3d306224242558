"""The template preview in headless Chromium: sandboxed frame, chosen width, dark scheme."""

from __future__ import annotations

import pytest

from mailapp.access.audit import Actor
from mailapp.content.templates import Content, create_template
from tests.factories import PASSWORD, make_project, make_user

pytestmark = pytest.mark.browser
HTML = (
    '<p style="color: #000000">Hello {{ contact.first_name }}</p>'
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
)


def test_preview_renders_in_a_sandboxed_frame_at_the_chosen_width(app, page):
    with app.app_context():
        project = make_project()
        user = make_user(project, "marketer")
        content = Content(subject="Hi {{ contact.first_name }}", html=HTML)
        template = create_template(project, "Welcome", content, actor=Actor.system())
        version_id, email = template.versions[0].id, user.email

    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"/admin/template/version/{version_id}/preview/?width=320&dark=1")

    frame_element = page.locator("#preview-frame")
    assert frame_element.get_attribute("sandbox") == ""
    assert frame_element.bounding_box()["width"] == pytest.approx(322, abs=3)
    frame = frame_element.element_handle().content_frame()
    frame.wait_for_selector("text=Hello Alex")
    # The dark scheme inverts the light design, as Gmail's forced dark mode does.
    assert "invert(1)" in frame.evaluate("getComputedStyle(document.documentElement).filter")
    assert page.locator("#preview-subject").inner_text() == "Hi Alex"
    assert page.locator("[data-check=unsubscribe_link]").inner_text().startswith("✓")
