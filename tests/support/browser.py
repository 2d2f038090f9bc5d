"""Headless Chromium for the web page's tests: Debian's ``chromium`` driven by Playwright.

Playwright's own browser downloads are never used (this machine reaches package registries
only): the browser is the system's ``/usr/bin/chromium`` (``apt-get install chromium``), or
``MICROMAILER_TEST_CHROMIUM``. Without it, or without the ``playwright`` package, the tests are
skipped with the reason — except under ``CI=true``, where that is a failure.

:class:`PageWatch` records what a page must never do: throw, or be refused by its
Content-Security-Policy. Tests assert it stayed clean.
"""

from __future__ import annotations

import importlib.util
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.servers import in_ci, unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Response

CHROMIUM_ENV = "MICROMAILER_TEST_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",                     # we run as root in a container
    "--disable-gpu",
    "--disable-background-networking",  # no call home: the machine has no network
    "--disable-component-update",
    "--no-first-run",
]

#: Set to a directory to keep the screenshots; otherwise they go to a scratch directory, so a
#: test run never rewrites the committed images.
SCREENSHOTS_ENV = "MICROMAILER_TEST_SCREENSHOTS"

#: An email id as the page shows it.
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
#: Milliseconds an email may take to reach a final status on the page.
FINAL_TIMEOUT = 30_000

_NO_PLAYWRIGHT = "Playwright is not installed (pip install -e '.[dev]')"


def require_playwright() -> None:
    """Call at the top of a browser test module, before importing Playwright: without it the
    module is skipped (a collection error under ``CI=true``)."""
    if importlib.util.find_spec("playwright") is not None:
        return
    if in_ci():
        pytest.fail(f"{_NO_PLAYWRIGHT} (CI=true: the browser tests must run)", pytrace=False)
    pytest.skip(_NO_PLAYWRIGHT, allow_module_level=True)


def chromium_path() -> Path:
    """The Chromium executable; skip (or fail under ``CI=true``) when it is absent."""
    path = Path(os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM)
    if not path.exists():
        reason = (f"Chromium is not installed at {path} (apt-get install chromium, or set "
                  f"{CHROMIUM_ENV}); the web page's browser tests need it")
        if in_ci():
            pytest.fail(f"{reason} (CI=true: the browser tests must run)", pytrace=False)
        pytest.skip(reason)
    return path


@contextmanager
def launched_chromium() -> Iterator[Browser]:
    """A headless Chromium for the whole session."""
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable(_NO_PLAYWRIGHT)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), args=LAUNCH_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


class PageWatch:
    """Uncaught errors and Content-Security-Policy refusals seen on a page."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        text = message.text
        if "Content Security Policy" in text or (
            message.type == "error" and not text.startswith("Failed to load resource")
        ):
            self.errors.append(f"console {message.type}: {text}")


@contextmanager
def watched_page(browser: Browser, **context_options: Any) -> Iterator[Page]:
    """A page in a fresh context; on the way out, fail if it threw or broke its CSP."""
    context = browser.new_context(locale="en-GB", **context_options)
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    watch = PageWatch(opened)
    try:
        yield opened
    finally:
        context.close()
    assert not watch.errors, watch.errors


def open_page(page: Page, url: str) -> Response:
    """Load the web page at ``url`` and wait for its first refresh of every panel."""
    from playwright.sync_api import expect

    response = page.goto(f"{url}/")
    assert response is not None and response.status == 200
    expect(page.locator("body")).to_have_attribute("data-loaded", "true")
    return response


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save ``<name>.png`` in ``$MICROMAILER_TEST_SCREENSHOTS`` (``make screenshots`` points
    it at docs/img), else in a scratch directory; fail if nothing was drawn."""
    directory = Path(os.environ.get(SCREENSHOTS_ENV) or Path(tempfile.gettempdir())
                     / "micromailer-screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    assert path.stat().st_size > 1000, f"{path} is nearly empty"
    return path


__all__ = [
    "CHROMIUM_ENV",
    "FINAL_TIMEOUT",
    "LAUNCH_ARGS",
    "SCREENSHOTS_ENV",
    "UUID",
    "PageWatch",
    "chromium_path",
    "launched_chromium",
    "open_page",
    "require_playwright",
    "screenshot",
]
