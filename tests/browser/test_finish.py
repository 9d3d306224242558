"""The finished back office in headless Chromium: home, a refusal, API docs, sign-up embed code,
and a starter template read at 320 px without sideways scrolling."""

from __future__ import annotations

import pytest

from mailapp.extensions import db
from tests.factories import add_contacts, make_list, make_project, make_user
from tests.support.browser import log_in

pytestmark = pytest.mark.browser


# The clipboard write behind "Copy embed code" timed out once with the other xdist worker's
# Chromium running: this walk-through runs alone.
@pytest.mark.serial
def test_a_marketer_finds_their_way_around(app, page, tmp_path):
    with app.app_context():
        project = make_project()
        project.postal_address = "Example Ltd, 1 Example Street, Berlin"
        user = make_user(project, "marketer")
        lst = make_list(project, 1250)
        lst.name, lst.is_public = "Weekly news", True
        lst.consent_text = "I want the weekly news."
        add_contacts(project, make_list(project), ["someone@example.org"])
        db.session.commit()
        email, list_id = user.email, lst.id
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])

    page.goto("/")
    page.wait_for_url("**/login")
    log_in(page, email)
    page.screenshot(path=tmp_path / "01-home.png", full_page=True)

    page.goto("/admin/sender/")
    assert page.locator("#needed-permission").is_visible()
    assert "senders.manage" in page.locator("#needed-permission").inner_text()
    assert page.locator("#user-menu").is_visible()  # the navigation stays
    page.screenshot(path=tmp_path / "02-forbidden.png", full_page=True)

    page.click("#user-menu")
    page.click("[aria-labelledby=user-menu] >> text=API docs")
    page.wait_for_selector(".opblock-summary-path")  # Swagger UI drew the operations
    assert page.locator(".opblock").count() > 10
    assert page.locator(".opblock-summary-path", has_text="/contacts").first.is_visible()
    page.screenshot(path=tmp_path / "03-api-docs.png", full_page=True)

    page.goto("/admin/list/")
    assert "1,250" in page.locator("tr", has_text="Weekly news").inner_text()
    page.screenshot(path=tmp_path / "04-lists.png", full_page=True)
    page.click(f'a[href="/admin/list/{list_id}/signup/"]')
    page.click("text=Copy embed code")
    page.wait_for_selector("#copy-done:has-text('Copied.')")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith('<form action="http://mail.test/subscribe/')
    assert 'name="website"' in copied
    page.screenshot(path=tmp_path / "05-embed-code.png", full_page=True)

    page.goto("/admin/template/new/")
    page.screenshot(path=tmp_path / "06-starter-gallery.png", full_page=True)
    page.fill("input[name=name]", "June news")
    page.check("input[name=editor][value=html]")
    page.check("input[name=starter][value=newsletter]")
    page.click("input[type=submit][value=Save]")
    page.wait_for_url("**/draft/")
    page.goto(page.url.replace("/draft/", "/versions/"))
    preview_href = page.locator("a[href*='/preview/']").first.get_attribute("href")
    version_id = preview_href.split("/version/")[1].split("/")[0]

    phone = page.context.new_page()
    phone.set_viewport_size({"width": 320, "height": 640})
    phone.goto(f"/admin/template/version/{version_id}/preview/body")
    phone.wait_for_selector("text=Third story")
    assert phone.evaluate("document.scrollingElement.scrollWidth") <= 320
    size = phone.evaluate("parseFloat(getComputedStyle(document.querySelector('p')).fontSize)")
    assert size >= 16
    phone.screenshot(path=tmp_path / "07-starter-320px.png", full_page=True)
    phone.set_viewport_size({"width": 1024, "height": 768})
    sheet = phone.evaluate("document.querySelector('table.sheet').getBoundingClientRect().width")
    assert sheet == pytest.approx(600, abs=1)  # fluid, capped at 600 px on a wide screen
