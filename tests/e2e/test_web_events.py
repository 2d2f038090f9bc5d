"""The web page shows what the providers report after accepting an email: the fake's signed
events come back through ``POST /webhooks/{provider}`` and land on the email's timeline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import FINAL_TIMEOUT, open_page, require_playwright, screenshot
from tests.support.service import EmbeddedService

require_playwright()
from playwright.sync_api import Page, expect  # noqa: E402  (after the check above)

pytestmark = pytest.mark.e2e


@pytest.fixture
def service(tmp_path: Path) -> Iterator[EmbeddedService]:
    running = EmbeddedService(tmp_path / "var", MICROMAILER_SANDBOX_EVENTS_DELAY="0.3").start()
    try:
        yield running
    finally:
        running.stop()


def test_a_complaint_shows_on_the_timeline_after_delivery(
    page: Page, service: EmbeddedService,
) -> None:
    open_page(page, service.url)
    page.fill("[name=to]", "complain@simulator.micromailer.test")
    page.fill("[name=subject]", "Spring sale")
    page.fill("[name=content]", "Everything must go")
    page.get_by_role("button", name="Send email").click()

    expect(page.get_by_test_id("email-status")).to_have_text("complained",
                                                             timeout=FINAL_TIMEOUT)
    items = page.get_by_test_id("timeline").locator("li")
    expect(items).to_have_count(3)
    assert [(item.get_attribute("data-provider"), item.get_attribute("data-outcome"),
             item.get_attribute("data-event")) for item in items.all()] == [
        ("sendgrid", "sent", None), ("sendgrid", None, "delivered"),
        ("sendgrid", None, "complained")]
    expect(items.nth(2)).to_contain_text("marked as spam")
    expect(page.get_by_test_id("email-summary")).to_contain_text("marked it as spam")
    screenshot(page, "web-events")


def test_a_hard_bounce_shows_its_kind(page: Page, service: EmbeddedService) -> None:
    open_page(page, service.url)
    page.fill("[name=to]", "bounce@simulator.micromailer.test")
    page.fill("[name=subject]", "Welcome")
    page.fill("[name=content]", "Hello")
    page.get_by_role("button", name="Send email").click()

    expect(page.get_by_test_id("email-status")).to_have_text("bounced", timeout=FINAL_TIMEOUT)
    expect(page.get_by_test_id("timeline").locator("li[data-event=bounced]")).to_contain_text(
        "bounced (hard)")
