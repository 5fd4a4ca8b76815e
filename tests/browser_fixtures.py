"""Browser fixtures: the app served on a loopback port, and a chromium page driving it.

Registered from tests/conftest.py, so every test folder may use ``live_server`` and
``page``; mark such tests ``@pytest.mark.browser``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class LiveServer:
    """The test app, served for real: ``url`` is http://127.0.0.1:<port>."""

    app: object
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url_for(self, path: str) -> str:
        return self.url + path


@pytest.fixture
def live_server(app):
    """Serve the test app (same database as ``app``) on a free port of 127.0.0.1."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(app, "127.0.0.1", server.server_port)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def require_chromium(path: Path = CHROMIUM) -> None:
    """Skip when chromium is missing; fail instead when CI is set (CI must run them)."""
    if not path.exists():
        reason = f"{path} is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI is set, so browser tests must run")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    """Launch Debian's chromium once per run through Playwright."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser page (own cookies) whose relative URLs go to ``live_server``."""
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()
