"""The web page with authentication on, in headless Chromium against ``micromailer run`` with
keys made by ``micromailer keys create``: it asks for a key in the page, keeps it for the tab
only, sends it on every call, re-asks when it is refused, and shows a send key the sandbox's
controls as admin-only rather than breaking.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from micromailer.api.gate import UNKNOWN_KEY
from tests.support.browser import (
    FINAL_TIMEOUT,
    UUID,
    open_page,
    require_playwright,
    screenshot,
    watched_page,
)
from tests.support.keys import create_key, keys_command
from tests.support.service import EmbeddedService

require_playwright()
from playwright.sync_api import Browser, Page, Request, expect  # noqa: E402  (after the check)

pytestmark = pytest.mark.e2e

#: The contract's bound for a new or revoked key to take effect (docs/security.md), with the
#: page's 2 s poll on top.
KEY_BOUND_MS = 5_000 + 2_000
STORAGE_KEY = "micromailer.apiKey"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedService]:
    running = EmbeddedService(tmp_path_factory.mktemp("webkeys") / "var").start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def keys(service: EmbeddedService) -> dict[str, str]:
    """A send key and an admin key; authentication is on once the API has seen them."""
    made = {
        "send": create_key(service.env, "web-send", "--project", "shop"),
        "admin": create_key(service.env, "web-admin", "--scope", "admin"),
    }
    deadline = time.monotonic() + KEY_BOUND_MS / 1000
    while httpx.get(f"{service.url}/emails").status_code != 401:
        assert time.monotonic() < deadline, "authentication did not turn on"
        time.sleep(0.1)
    return made


@pytest.fixture
def page(chromium: Browser, keys: dict[str, str]) -> Iterator[Page]:
    with watched_page(chromium, viewport={"width": 1280, "height": 900}) as opened:
        yield opened


def enter_key(page: Page, key: str) -> None:
    page.get_by_label("API key", exact=True).fill(key)
    page.get_by_role("button", name="Use this key").click()


def kept_key(page: Page) -> str | None:
    value: str | None = page.evaluate(f"sessionStorage.getItem('{STORAGE_KEY}')")
    return value


def send(page: Page, subject: str) -> None:
    page.fill("[name=to]", "ada@example.com")
    page.fill("[name=subject]", subject)
    page.get_by_role("button", name="Send email").click()


def authorizations(page: Page) -> list[tuple[str, str | None]]:
    """Every API call the page makes from now on, with its ``Authorization`` header."""
    seen: list[tuple[str, str | None]] = []

    def record(request: Request) -> None:
        if request.resource_type == "fetch":
            seen.append((request.url, request.headers.get("authorization")))

    page.on("request", record)
    return seen


def test_the_page_asks_for_a_key_refuses_a_wrong_one_and_sends_with_a_good_one(
    page: Page, service: EmbeddedService, keys: dict[str, str],
) -> None:
    response = open_page(page, service.url)
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe" not in policy
    card = page.get_by_test_id("key-card")
    expect(card).to_be_visible()
    expect(card).to_contain_text("This micromailer needs an API key")
    expect(card).to_contain_text("in this tab only")
    assert page.get_by_label("API key", exact=True).get_attribute("type") == "password"
    expect(page.get_by_test_id("key-status")).to_be_hidden()

    send(page, "Without a key")
    expect(page.get_by_test_id("form-error")).to_contain_text("enter an API key")
    expect(page.get_by_label("API key", exact=True)).to_be_focused()
    expect(page.get_by_test_id("email-id")).to_have_text("")

    enter_key(page, "mm_live_thisisnotakey")
    expect(page.get_by_test_id("key-error")).to_have_text(UNKNOWN_KEY)
    expect(card).to_be_visible()
    assert kept_key(page) is None
    screenshot(page, "web-key-refused")

    calls = authorizations(page)
    enter_key(page, keys["send"])
    expect(card).to_be_hidden()
    expect(page.get_by_test_id("key-status")).to_contain_text(keys["send"][:12])
    assert keys["send"] not in (page.get_by_test_id("key-status").text_content() or "")
    assert kept_key(page) == keys["send"]

    send(page, "With a send key")
    expect(page.get_by_test_id("email-id")).to_have_text(UUID)
    expect(page.get_by_test_id("email-status")).to_have_text("sent", timeout=FINAL_TIMEOUT)
    expect(page.get_by_test_id("recent-emails")).to_contain_text("With a send key")
    email_id = page.get_by_test_id("email-id").inner_text()
    assert service.as_key(keys["send"]).email(email_id)["status"] == "sent"
    assert calls and all(header == f"Bearer {keys['send']}" for _, header in calls), calls


def test_a_send_key_sees_the_sandbox_controls_as_admin_only(
    page: Page, service: EmbeddedService, keys: dict[str, str],
) -> None:
    open_page(page, service.url)
    enter_key(page, keys["send"])

    expect(page.get_by_test_id("admin-only")).to_be_visible()
    expect(page.get_by_test_id("admin-only")).to_contain_text("need an admin key")
    expect(page.get_by_test_id("score-sendgrid")).to_be_visible()
    expect(page.get_by_test_id("outage-sendgrid")).to_be_hidden()
    expect(page.locator("#captured-card")).to_be_hidden()
    expect(page.locator("#providers-error")).to_be_hidden()
    screenshot(page, "web-key-send")


def test_an_admin_key_uses_the_sandbox_controls(
    page: Page, service: EmbeddedService, keys: dict[str, str],
) -> None:
    open_page(page, service.url)
    enter_key(page, keys["admin"])

    expect(page.get_by_test_id("admin-only")).to_be_hidden()
    switch = page.get_by_test_id("outage-sendgrid")
    expect(switch).to_have_attribute("aria-checked", "false")
    switch.click()
    expect(switch).to_have_attribute("aria-checked", "true")
    faults = service.sandbox.http.get(f"{service.sandbox_url}/_sandbox/sendgrid/faults").json()
    assert faults["failRate"] == 1.0
    switch.click()
    expect(switch).to_have_attribute("aria-checked", "false")
    expect(page.locator("#captured-card")).to_be_visible()


def test_the_key_is_kept_for_the_tab_only_and_can_be_forgotten(
    page: Page, chromium: Browser, service: EmbeddedService, keys: dict[str, str],
) -> None:
    open_page(page, service.url)
    enter_key(page, keys["send"])
    expect(page.get_by_test_id("key-status")).to_be_visible()

    page.reload()
    expect(page.locator("body")).to_have_attribute("data-loaded", "true")
    expect(page.get_by_test_id("key-card")).to_be_hidden()
    expect(page.get_by_test_id("key-status")).to_contain_text(keys["send"][:12])
    expect(page.get_by_test_id("score-sendgrid")).to_be_visible()

    other_tab = page.context.new_page()
    open_page(other_tab, service.url)
    expect(other_tab.get_by_test_id("key-card")).to_be_visible()
    assert kept_key(other_tab) is None
    other_tab.close()
    with watched_page(chromium) as other_session:
        open_page(other_session, service.url)
        expect(other_session.get_by_test_id("key-card")).to_be_visible()
        assert kept_key(other_session) is None

    page.get_by_role("button", name="Forget key").click()
    expect(page.get_by_test_id("key-card")).to_be_visible()
    expect(page.get_by_test_id("key-status")).to_be_hidden()
    assert kept_key(page) is None


def test_a_kept_key_that_is_revoked_is_forgotten_and_asked_again(
    page: Page, service: EmbeddedService,
) -> None:
    key = create_key(service.env, "web-revoked")
    open_page(page, service.url)
    enter_key(page, key)
    expect(page.get_by_test_id("key-card")).to_be_hidden()

    revoked = keys_command(service.env, "revoke", "web-revoked")
    assert revoked.returncode == 0, revoked.stderr

    expect(page.get_by_test_id("key-card")).to_be_visible(timeout=KEY_BOUND_MS)
    expect(page.get_by_test_id("key-error")).to_have_text(UNKNOWN_KEY)
    expect(page.get_by_test_id("key-status")).to_be_hidden()
    assert kept_key(page) is None
