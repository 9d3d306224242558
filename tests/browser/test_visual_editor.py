"""A marketer builds a newsletter from blocks in headless Chromium: a personalization tag from
the picker, an image uploaded in place, a keyboard move and its undo; saves, previews it at
320 px for a contact, sends a test and reads it from a real SMTP sink."""

from __future__ import annotations

import email
import io
import re

import pytest
from PIL import Image

from mailapp.extensions import db
from tests.factories import make_contact, make_project, make_sender, make_user
from tests.support.browser import log_in
from tests.support.smtp_sink import SmtpSink

pytestmark = pytest.mark.browser


def _order(page) -> list[str]:
    return page.eval_on_selector_all(".ve-block", "cards => cards.map(c => c.dataset.type)")


def _html_part(data: bytes) -> str:
    message = email.message_from_bytes(data)
    part = next(p for p in message.walk() if p.get_content_type() == "text/html")
    return part.get_payload(decode=True).decode()


def _shot(page, tmp_path, name: str) -> None:
    page.screenshot(path=tmp_path / name, full_page=True)


def test_marketer_builds_a_newsletter_from_blocks_and_test_sends_it(app, page, tmp_path):
    sink = SmtpSink().start()
    try:
        project = make_project("acme")
        project.postal_address = "Acme Ltd, 1 Harbour Road, Bristol"
        db.session.commit()
        make_user(project, "marketer", email="marketer@example.com")
        make_contact(project, email="zoe@example.org", first_name="Zoë", last_name="Lamb")
        make_sender(project, transport_url=sink.url)
        page.set_viewport_size({"width": 1600, "height": 1000})
        log_in(page, "marketer@example.com")

        page.goto("/admin/template/new/")
        page.fill("input[name=name]", "June newsletter")
        page.check("input[name=editor][value=visual]")
        page.check("input[name=visual_starter][value=blank]")
        _shot(page, tmp_path, "01-create.png")
        page.click("input[type=submit][value=Save]")
        page.wait_for_url("**/admin/visual/*/")
        page.wait_for_selector("#ve-frame[data-rendered]")
        _shot(page, tmp_path, "02-blank-document.png")

        # The heading gets a tag from the picker, not typed by hand.
        page.click(".ve-block[data-type=heading]")
        page.fill("#ve-panel [data-field=text]", "Hello ")
        page.click("#ve-panel .ve-tag-button")
        page.click('#ve-panel [data-tag*="contact.first_name"]')
        heading = page.input_value("#ve-panel [data-field=text]")
        assert heading == 'Hello {{ contact.first_name | default("there") }}'
        page.fill("#ve-subject", "June news from Acme")
        page.fill("#ve-preheader", "Three stories from the harbour, and what comes next")

        # After the text (a new block goes after the selected one): an image, uploaded in
        # place, with its alt text; then a button.
        page.click(".ve-block[data-type=text]")
        page.click("[data-add=image]")
        png = io.BytesIO()
        Image.new("RGB", (600, 240), (26, 95, 180)).save(png, "PNG")
        page.set_input_files(
            "#ve-panel [data-field=upload]",
            files=[{"name": "hero.png", "mimeType": "image/png", "buffer": png.getvalue()}],
        )
        page.wait_for_selector("#ve-status:has-text('Uploaded hero.png')")
        # Saved without alt text: refused, the reason shown on the image's card.
        page.click("#ve-save")
        page.wait_for_selector("#ve-status:has-text('Nothing was saved')")
        assert "alt" in page.inner_text(".ve-block.ve-bad[data-type=image]")
        _shot(page, tmp_path, "03a-refused-without-alt.png")
        page.fill("#ve-panel [data-field=alt]", "Our harbour at dawn")
        page.click("[data-add=button]")
        page.fill("#ve-panel [data-field=label]", "Read the stories")
        page.fill("#ve-panel [data-field=href]", "https://acme.example/june")
        assert _order(page) == ["heading", "text", "image", "button", "footer"]
        page.frame_locator("#ve-frame").locator("text=Read the stories").wait_for()
        _shot(page, tmp_path, "03-blocks.png")
        # Dragged by its handle: the button goes above the text, and back with Ctrl+Z.
        page.locator(".ve-block[data-type=button]").drag_to(
            page.locator(".ve-block[data-type=text]"), target_position={"x": 20, "y": 4}
        )
        assert _order(page) == ["heading", "button", "text", "image", "footer"]
        page.click("#ve-undo")
        assert _order(page) == ["heading", "text", "image", "button", "footer"]

        # Keyboard: Alt+ArrowUp moves the focused button above the image; Ctrl+Z undoes it.
        page.focus(".ve-block[data-type=button]")
        page.keyboard.press("Alt+ArrowUp")
        assert _order(page) == ["heading", "text", "button", "image", "footer"]
        focused = page.evaluate("document.activeElement.dataset.type")
        assert focused == "button"  # focus follows the block, so it can move again
        _shot(page, tmp_path, "04-moved-by-keyboard.png")
        page.keyboard.press("Control+z")
        assert _order(page) == ["heading", "text", "image", "button", "footer"]
        # The footer cannot be deleted.
        page.focus(".ve-block[data-type=footer]")
        page.keyboard.press("Delete")
        assert _order(page)[-1] == "footer"

        page.click("#ve-save")
        page.wait_for_selector("#ve-status:has-text('Saved as draft v1')")
        _shot(page, tmp_path, "05-saved.png")

        # Preview as Zoë, at 320 px: her name in place of the tag, no sideways scrolling.
        page.fill("#ve-contact", "zoë")
        page.click("#ve-contact-list [data-contact]")
        page.click("[data-width='320']")
        frame = page.locator("#ve-frame")
        inner = frame.element_handle().content_frame()
        inner.wait_for_selector("text=Hello Zoë")
        assert frame.bounding_box()["width"] == pytest.approx(320, abs=2)
        assert inner.evaluate("document.documentElement.scrollWidth") <= 320
        assert page.inner_text("#ve-preview-subject") == "June news from Acme"
        checks = page.inner_text("#ve-checks")
        assert "Unsubscribe" in checks or "unsubscribe" in checks
        page.wait_for_timeout(300)  # let the frame paint before the screenshot
        _shot(page, tmp_path, "06-preview-320.png")
        frame.screenshot(path=tmp_path / "06b-frame-320.png")

        page.fill("#ve-test-to", "qa@example.org")
        page.click("#ve-test-send")
        page.wait_for_selector("#ve-test-result:has-text('qa@example.org: sent')")
        _shot(page, tmp_path, "07-test-sent.png")

        (message,) = sink.messages
        assert message.rcpt_tos == ["qa@example.org"]
        assert b"Subject: [TEST] June news from Acme" in message.data
        html = _html_part(message.data)
        assert "Hello Zoë" in html
        assert "contact.first_name" not in html
        assert "Our harbour at dawn" in html
        assert re.search(r'href="http://[^"]+/u/[^"]+"', html)  # unsubscribe
        assert re.search(r'href="http://[^"]+/v/[^"]+"', html)  # view in browser
        assert "Acme Ltd, 1 Harbour Road, Bristol" in html
    finally:
        sink.stop()


def test_brand_settings_and_the_one_way_conversion(app, page, tmp_path):
    from mailapp.access.audit import Actor
    from mailapp.content.blocks import new_document
    from mailapp.content.brand import brand_for
    from mailapp.content.templates import Content, create_template

    project = make_project("acme")
    project.postal_address = "Acme Ltd, 1 Harbour Road, Bristol"
    make_user(project, "marketer", email="marketer@example.com")
    template = create_template(
        project,
        "Spring sale",
        Content(subject="Spring", html="", document=new_document()),
        actor=Actor.system(),
    )
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, "marketer@example.com")

    page.goto("/admin/brand/")
    page.fill("#primary", "#aa3300")
    page.select_option("#font", "georgia")
    page.fill("#width", "640")
    _shot(page, tmp_path, "10-brand.png")
    page.click("#brand-form button[type=submit]")
    page.wait_for_selector("text=Brand saved")
    db.session.expire_all()
    brand = brand_for(project)
    assert (brand.primary, brand.font, brand.width) == ("#aa3300", "georgia", 640)

    page.goto(f"/admin/template/{template.id}/versions/")
    assert page.inner_text("#versions").count("Visual editor") == 1
    _shot(page, tmp_path, "11-versions-visual.png")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#convert-to-html")
    page.wait_for_url("**/draft/")
    assert "Converted to HTML" in page.inner_text("body")
    _shot(page, tmp_path, "12-converted.png")
