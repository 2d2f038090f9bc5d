"""Fixtures that start the real service as a subprocess."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.browser import launched_chromium, watched_page
from tests.support.service import EmbeddedService

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@pytest.fixture
def service(tmp_path: Path) -> Iterator[EmbeddedService]:
    """A fresh ``micromailer run`` in sandbox mode, its data under a temporary directory."""
    running = EmbeddedService(tmp_path / "var").start()
    try:
        yield running
    finally:
        running.stop()


# -- the web page's browser tests (tests/e2e/test_web*.py) -----------------------------------


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's headless Chromium under Playwright; skipped (failed in CI) when absent.

    One per module, not per session: Playwright's synchronous API keeps an asyncio loop
    marked as running in this thread while it is open, so later tests that call
    ``asyncio.run()`` would fail.
    """
    with launched_chromium() as browser:
        yield browser


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    """A desktop-sized page; the test fails if it throws or breaks its CSP."""
    with watched_page(chromium, viewport={"width": 1280, "height": 900}) as opened:
        yield opened
