"""The web page's form when the API says no, and the whole page on a phone-sized screen."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.browser import (
    FINAL_TIMEOUT,
    UUID,
    open_page,
    require_playwright,
    screenshot,
    watched_page,
)
from tests.support.service import EmbeddedService

require_playwright()
from playwright.sync_api import Browser, Page, ViewportSize, expect  # noqa: E402

pytestmark = pytest.mark.e2e

PHONE: ViewportSize = {"width": 375, "height": 812}


@pytest.fixture
def phone(chromium: Browser) -> Iterator[Page]:
    """A 375 px wide touch screen; the test fails if the page throws or breaks its CSP."""
    with watched_page(chromium, viewport=PHONE, is_mobile=True, has_touch=True,
                      device_scale_factor=1, reduced_motion="reduce") as opened:
        yield opened


def test_the_api_rejecting_the_form_shows_its_sentence_and_marks_the_fields(
    page: Page, service: EmbeddedService,
) -> None:
    open_page(page, service.url)
    page.fill("[name=to]", "not-an-address")
    page.fill("[name=subject]", "   ")

    page.get_by_role("button", name="Send email").click()

    alert = page.get_by_test_id("form-error")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("`to` must be a valid email address")
    expect(alert).to_contain_text("(and 1 more problem)")
    for field in ("to", "subject"):
        expect(page.locator(f"[name={field}]")).to_have_attribute("aria-invalid", "true")
        expect(page.locator(f"#{field}-error")).to_be_visible()
    expect(page.locator("[name=to]")).to_be_focused()
    expect(page.locator("[name=to_name]")).not_to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("email-id")).to_be_hidden()
    assert service.http.get(f"{service.url}/emails").json() == []

    page.fill("[name=to]", "ada@example.com")
    expect(page.locator("[name=to]")).not_to_have_attribute("aria-invalid", "true")
    page.fill("[name=subject]", "Fixed")
    page.get_by_role("button", name="Send email").click()

    expect(page.get_by_test_id("email-id")).to_have_text(UUID)
    expect(alert).to_be_hidden()
    expect(page.locator("#subject-error")).to_be_hidden()


def test_the_page_works_on_a_phone_sized_screen(phone: Page, service: EmbeddedService) -> None:
    open_page(phone, service.url)
    phone.locator("[name=to]").tap()
    phone.keyboard.type("ada@example.com")
    phone.fill("[name=subject]", "Sent from a phone")

    phone.get_by_role("button", name="Send email").tap()

    status = phone.get_by_test_id("email-status")
    expect(status).to_have_text("sent", timeout=FINAL_TIMEOUT)
    expect(status).to_be_in_viewport()  # the page brought the status into view
    expect(phone.get_by_test_id("recent-emails")).to_contain_text("Sent from a phone")
    expect(phone.get_by_test_id("outage-sendgrid")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for selector in ("[name=content]", "[data-testid=score-chart]", "[data-testid=timeline]"):
        box = phone.locator(selector).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    phone.get_by_role("heading", name="Follow an email").scroll_into_view_if_needed()
    screenshot(phone, "web-mobile", full_page=False)
