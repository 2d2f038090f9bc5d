"""The web page in headless Chromium against ``micromailer run``: send and watch an email,
fail over during an outage switched on from the page, and keep hostile strings as text.

Each test saves a screenshot under ``docs/img/`` for the README.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.support.browser import FINAL_TIMEOUT, UUID, open_page, require_playwright, screenshot
from tests.support.service import EmbeddedService

require_playwright()
from playwright.sync_api import Page, expect  # noqa: E402  (after the check above)

pytestmark = pytest.mark.e2e


def send(page: Page, *, to: str, subject: str, to_name: str = "", content: str | None = None,
         ) -> str:
    """Fill the form with the mouse and send; return the email id the page shows."""
    page.fill("[name=to]", to)
    page.fill("[name=to_name]", to_name)
    page.fill("[name=subject]", subject)
    if content is not None:
        page.fill("[name=content]", content)
    previous = page.get_by_test_id("email-id").text_content()
    page.get_by_role("button", name="Send email").click()
    expect(page.get_by_test_id("email-id")).not_to_have_text(previous or "", timeout=10_000)
    return page.get_by_test_id("email-id").inner_text()


def timeline(page: Page) -> list[tuple[str | None, str | None]]:
    items = page.get_by_test_id("timeline").locator("li")
    return [(item.get_attribute("data-provider"), item.get_attribute("data-outcome"))
            for item in items.all()]


def score(page: Page, provider: str) -> float:
    return float(page.get_by_test_id(f"score-{provider}").inner_text())


def test_a_visitor_sends_an_email_with_the_keyboard_and_watches_it_reach_sent(
    page: Page, service: EmbeddedService,
) -> None:
    response = open_page(page, service.url)
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    # No key exists, so authentication is off: the page never asks for one.
    expect(page.get_by_test_id("key-card")).to_be_hidden()
    expect(page.get_by_test_id("key-status")).to_be_hidden()

    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the send form")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.locator("[name=to]")).to_be_focused()
    page.keyboard.type("ada@example.com")
    page.keyboard.press("Tab")
    page.keyboard.type("Ada Lovelace")
    page.keyboard.press("Tab")
    expect(page.locator("[name=cc]")).to_be_focused()  # cc and bcc are optional: passed by
    page.keyboard.press("Tab")
    expect(page.locator("[name=bcc]")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.type("Your order has shipped")
    page.keyboard.press("Tab")
    expect(page.get_by_role("tab", name="Write")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("[name=content]")).to_be_focused()
    page.keyboard.press("Control+Enter")

    expect(page.get_by_test_id("email-id")).to_have_text(UUID)
    expect(page.get_by_test_id("email-status")).to_have_text("sent", timeout=FINAL_TIMEOUT)
    email_id = page.get_by_test_id("email-id").inner_text()
    assert service.email(email_id)["status"] == "sent"
    expect(page.get_by_test_id("timeline").locator("li")).to_have_count(1)
    assert timeline(page) == [("sendgrid", "sent")]
    expect(page.get_by_test_id("email-summary")).to_contain_text("SendGrid on the first try")
    expect(page.get_by_test_id("recent-emails")).to_contain_text("Your order has shipped")
    expect(page.get_by_test_id("captured-sendgrid")).to_contain_text("Your order has shipped")
    expect(page.get_by_test_id("score-sendgrid")).to_have_text("50.0")
    expect(page.get_by_test_id("score-mandrill")).to_have_text("49.0")
    assert page.get_by_test_id("score-chart").locator("polyline").count() >= 2
    page.locator("[name=content]").blur()
    screenshot(page, "web-sent")


def test_an_outage_switched_on_from_the_page_fails_over_to_mandrill(
    page: Page, service: EmbeddedService,
) -> None:
    open_page(page, service.url)
    send(page, to="ada@example.com", to_name="Ada Lovelace", subject="Before the outage")
    expect(page.get_by_test_id("email-status")).to_have_text("sent", timeout=FINAL_TIMEOUT)

    switch = page.get_by_test_id("outage-sendgrid")
    expect(switch).to_have_attribute("aria-checked", "false")
    switch.focus()
    page.keyboard.press("Space")
    expect(switch).to_have_attribute("aria-checked", "true")
    faults = service.sandbox.http.get(f"{service.sandbox_url}/_sandbox/sendgrid/faults").json()
    assert faults["failRate"] == 1.0

    send(page, to="grace@example.com", to_name="Grace Hopper", subject="During the outage")
    expect(page.get_by_test_id("email-status")).to_have_text("sent", timeout=FINAL_TIMEOUT)

    expect(page.get_by_test_id("timeline").locator("li")).to_have_count(2)
    assert timeline(page) == [("sendgrid", "failed"), ("mandrill", "sent")]
    expect(page.get_by_test_id("timeline").locator("li").first).to_contain_text("503")
    expect(page.get_by_test_id("email-summary")).to_contain_text("Mandrill after 1 failed try")
    expect(page.get_by_test_id("captured-mandrill")).to_contain_text("During the outage")
    expect(page.get_by_test_id("recent-emails").locator("tbody tr").first).to_contain_text(
        "Mandrill")
    deadline = time.monotonic() + 10
    while score(page, "sendgrid") >= score(page, "mandrill") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert score(page, "sendgrid") < score(page, "mandrill")
    expect(page.get_by_test_id("score-chart")).to_have_attribute(
        "aria-label", re.compile(r"SendGrid ([1-3]\d|4[0-8])\.\d, Mandrill 49\.0"))
    screenshot(page, "web-failover")


XSS_SUBJECT = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
XSS_NAME = '<img src=x onerror="window.__xss = 3">'
XSS_CONTENT = (
    "# <script>window.__xss = 4</script>\n\n"
    '<img src=x onerror="parent.__xss = 5">\n\n'
    "[click](javascript:parent.__xss=6)"
)


def test_markup_in_every_user_string_is_shown_as_text_and_never_runs(
    page: Page, service: EmbeddedService,
) -> None:
    open_page(page, service.url)

    send(page, to="eve@example.com", to_name=XSS_NAME, subject=XSS_SUBJECT, content=XSS_CONTENT)
    expect(page.get_by_test_id("email-status")).to_have_text("sent", timeout=FINAL_TIMEOUT)
    expect(page.get_by_test_id("recent-emails")).to_contain_text(XSS_SUBJECT)
    expect(page.get_by_test_id("captured-sendgrid")).to_contain_text(XSS_SUBJECT)
    page.get_by_role("tab", name="Preview").click()
    preview = page.frame_locator("#preview-frame")
    expect(preview.locator("h1")).to_have_text("<script>window.__xss = 4</script>")
    expect(preview.locator("body")).to_contain_text('<img src=x onerror="parent.__xss = 5">')

    expect(page.get_by_test_id("email-subject")).to_have_text(XSS_SUBJECT)
    expect(page.locator("#email-to")).to_have_text(f"{XSS_NAME} <eve@example.com>")
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src=x], script:not([src])").count() == 0
    assert preview.locator("script, img, a[href^=javascript]").count() == 0
    assert page.locator("#preview-frame").get_attribute("sandbox") == ""
    screenshot(page, "web-xss")
