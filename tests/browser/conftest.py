"""Browser fixtures: the real app over real HTTP (as in tests/e2e), driven by Debian's Chromium
through Playwright for Python.

Playwright's own browser downloads are never used: Chromium is the system's (``chromium``, or
the path in VIGIL_CHROMIUM). Without it these tests skip, unless VIGIL_REQUIRE_BROWSER=1 (CI),
when they fail. One browser per test session, so one per xdist worker; each test gets a fresh
context (no cookies, storage or cache carried over) and page, whose ``base_url`` is its server.

The helpers the tests use (accessibility, sideways scrolling, origins) are in
tests/browser/support.py.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from interfaces.composition import Vigil
from interfaces.http import create_app
from tests.e2e.conftest import LiveServer
from tests.e2e.support import Api

REQUIRE_BROWSER = os.environ.get("VIGIL_REQUIRE_BROWSER") == "1"
# What a closed network needs: without the background-networking flags Chromium keeps trying to
# reach Google's services, and those connections are refused here.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOW_TO_GET_IT = (
    "install Debian's Chromium (apt-get install chromium) or set VIGIL_CHROMIUM to its path"
)


# Waits (actions and expect) long enough for a loaded 2-CPU machine running tests in parallel:
# building /openapi.json for the docs page alone takes seconds there.
TIMEOUT_MS = 20_000
expect.set_options(timeout=TIMEOUT_MS)


def chromium_path() -> str | None:
    configured = os.environ.get("VIGIL_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = chromium_path()
    if executable is None:
        if REQUIRE_BROWSER:
            pytest.fail(
                f"Chromium is required (VIGIL_REQUIRE_BROWSER=1) but was not found: {HOW_TO_GET_IT}"
            )
        pytest.skip(f"browser tests need Chromium: {HOW_TO_GET_IT}")
    browser = playwright.chromium.launch(
        executable_path=executable, headless=True, args=CHROMIUM_ARGS
    )
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def server(vigil: Vigil) -> Iterator[LiveServer]:
    live = LiveServer(create_app(vigil), trusted_proxies=vigil.settings.trusted_proxy_list)
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def api(server: LiveServer, vigil: Vigil) -> Iterator[Api]:
    """httpx clients on the same server: set things up and check results through the API."""
    with Api(server.base_url, vigil) as api:
        yield api


@pytest.fixture
def context(browser: Browser, server: LiveServer) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=server.base_url, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def requests_made(context: BrowserContext) -> list[str]:
    """The URL of every request any page of the test's context makes, in order."""
    urls: list[str] = []
    context.on("request", lambda request: urls.append(request.url))
    return urls


@pytest.fixture
def console_errors(page: Page) -> list[str]:
    """Errors the page logs (a Content-Security-Policy violation is one) and uncaught ones."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    return errors


@pytest.fixture
def page(context: BrowserContext, requests_made: list[str]) -> Page:
    """A new page in the test's fresh context (``requests_made`` records from its start)."""
    return context.new_page()
