"""The CSV import wizard in headless Chromium: upload, map, problems, progress to completion."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from dramatiq import Worker
from playwright.sync_api import Browser, sync_playwright
from werkzeug.serving import make_server

from mailapp.audience.lists import create_list
from mailapp.extensions import db
from mailapp.models import Contact
from tests.factories import PASSWORD, TEST_ACTOR, make_project, make_user
from tests.support.servers import free_port
from workers.broker import broker

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROWS = 6000


@pytest.fixture
def server_url(app) -> Iterator[str]:
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def worker(app) -> Iterator[Worker]:
    """A Dramatiq worker in this process, so the queued import really runs."""
    running = Worker(broker, worker_timeout=100)
    running.start()
    yield running
    running.stop()


def in_own_thread(scenario: Callable[[Browser], None]) -> None:
    """Drive Chromium from a fresh thread: Playwright's sync API refuses to start in a thread
    where another library left an asyncio loop running, as happens late in a full test run."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
                )
                try:
                    scenario(browser)
                finally:
                    browser.close()
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=300)
    assert not thread.is_alive(), "the browser scenario did not finish"
    if failure:
        raise failure[0]


def test_import_wizard_shows_progress_to_completion(
    app, server_url, worker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mailapp.audience.imports.runs.BATCH_ROWS", 500)  # many progress steps
    project = make_project()
    create_list(project.id, "Imported", actor=TEST_ACTOR)
    make_user(project, "marketer", email="marketer@example.com")
    csv_file = tmp_path / "people.csv"
    lines = ["email;first name;plan"] + [f"p{i}@example.com;P{i};pro" for i in range(ROWS)]
    lines[100] = "not-an-address;X;free"
    csv_file.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")

    def scenario(browser: Browser) -> None:
        page = browser.new_page()
        hosts: set[str] = set()
        page.on("request", lambda request: hosts.add(request.url.split("/")[2]))
        page.goto(f"{server_url}/login")
        page.fill("#email", "marketer@example.com")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{server_url}/admin/imports/")
        page.set_input_files("#csv-file", str(csv_file))
        page.click("#upload-form button[type=submit]")

        page.wait_for_selector("#mapping-form")
        assert page.input_value("select[data-column='email']") == "email"
        assert page.input_value("select[data-column='first name']") == "first_name"
        page.select_option("#list_id", label="Imported")
        page.click("#mapping-form button[type=submit]")

        page.wait_for_selector("#problem-counts")
        assert "invalid email" in page.inner_text("#problem-counts")
        page.check("#policy-update")
        page.click("#start-import")

        page.wait_for_selector("#import-bar")
        # The link is hidden in the served page; only the poller, seeing "done", shows it.
        page.wait_for_selector("#report-link:not(.d-none)", timeout=120_000)
        assert page.inner_text("#import-status") == "done"
        assert page.inner_text("#import-bar") == "100%"
        assert page.inner_text("#count-created") == f"{ROWS - 1:,}"
        assert page.inner_text("#count-invalid") == "1"
        report = page.request.get(server_url + page.get_attribute("#report-link", "href"))
        assert report.text().splitlines()[1].startswith("101,")  # lines[100] is line 101
        assert hosts == {server_url.split("/")[2]}  # offline: nothing from a CDN

    in_own_thread(scenario)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Contact)) == ROWS - 1
