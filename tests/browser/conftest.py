"""A real server thread for the app under test and a headless Debian Chromium."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.support.servers import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A browser test that timed out waiting for the page runs once more (pytest reports it
    as a rerun, never as a pass): with the other xdist worker's Chromium and stack on a
    two-core machine, a step has exceeded its 15 s a few times in a thousand runs. Any
    other failure, and a second timeout, fail the test."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.flaky(reruns=1, only_rerun=["TimeoutError"]))


@pytest.fixture
def app_server(app: Flask) -> Iterator[str]:
    """The app served over HTTP on a free loopback port, against the test's database."""
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, app_server) -> Iterator[object]:
    context = browser.new_context(base_url=app_server)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()
