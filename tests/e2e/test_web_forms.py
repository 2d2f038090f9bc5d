"""The web page's form when the API says no, with cc, bcc and files, and the whole page on a
phone-sized screen."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

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
from playwright.sync_api import (  # noqa: E402
    Browser,
    Page,
    Request,
    Route,
    ViewportSize,
    expect,
)

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


# -- cc, bcc and attachments: what the page sends -------------------------------------------

#: The id the routed API answers with; its status view is answered by :func:`rich_email`.
ROUTED_ID = "0b5c3a52-9f6e-4d1a-8c3e-2f7d8e1a4b6c"
#: Every byte value and the bytes a multipart body is made of, so a lossy encoding shows.
REPORT = b"%PDF-1.7\r\n--\r\n" + bytes(range(256)) * 16
NOTES = "Café, naïve — ünïcödé\n".encode()


def multipart_fields(request: Request) -> list[tuple[str, str | None, str | None, bytes]]:
    """``(name, filename, content type, bytes)`` of every part of a multipart request."""
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary="), content_type
    boundary = content_type.partition("boundary=")[2].strip('"').encode()
    body = request.post_data_buffer
    assert body is not None
    parts = []
    for chunk in body.split(b"--" + boundary)[1:-1]:
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        headers = dict(
            line.split(": ", 1) for line in head.decode("utf-8").split("\r\n")
        )
        headers = {key.lower(): value for key, value in headers.items()}
        disposition = headers["content-disposition"]
        name = re.search(r'(?:^|;\s*)name="([^"]*)"', disposition)
        filename = re.search(r'filename="([^"]*)"', disposition)
        assert name is not None, disposition
        parts.append((name.group(1), filename.group(1) if filename else None,
                      headers.get("content-type"), data.removesuffix(b"\r\n")))
    return parts


def rich_email() -> dict[str, Any]:
    """``GET /email/{id}`` as main's API answers it with recipients and attachments."""
    at = "2026-03-01T12:00:00+00:00"
    return {
        "emailId": ROUTED_ID, "status": "sent", "test": False, "subject": "Quarterly report",
        "to": "ada@example.com", "toName": "Ada", "provider": "sendgrid", "attemptCount": 1,
        "error": None, "createdAt": at, "updatedAt": at,
        "attempts": [{"provider": "sendgrid", "outcome": "sent", "attempt": 1, "startedAt": at,
                      "finishedAt": at, "statusCode": 202, "error": None}],
        "recipients": {
            "to": [{"email": "ada@example.com", "name": "Ada"}],
            "cc": [{"email": "jane@example.com", "name": "Jane"}, {"email": "bob@example.com"}],
            "bcc": [{"email": "audit@example.org"}],
        },
        "replyTo": [{"email": "help@example.org"}],
        "from": {"email": "no-reply@example.org", "name": "micromailer"},
        "attachments": [
            {"filename": "report.pdf", "contentType": "application/pdf", "size": len(REPORT),
             "contentId": None},
            {"filename": "notes.txt", "contentType": "text/plain", "size": len(NOTES),
             "contentId": None},
        ],
    }


@pytest.fixture
def routed_api(page: Page) -> list[Request]:
    """``POST /email`` and ``GET /email/<ROUTED_ID>`` answered in the browser, as main's API
    will answer them; the requests the page sent to ``POST /email`` are kept."""
    sent: list[Request] = []

    def accept(route: Route) -> None:
        if route.request.method != "POST":
            route.fallback()
            return
        sent.append(route.request)
        route.fulfill(status=202, content_type="application/json",
                      body=json.dumps({"status": "queued", "emailId": ROUTED_ID}))

    page.route("**/email", accept)
    page.route(f"**/email/{ROUTED_ID}", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(rich_email())))
    return sent


def test_cc_bcc_and_files_go_as_a_multipart_form_and_the_status_shows_them(
    page: Page, service: EmbeddedService, routed_api: list[Request],
) -> None:
    open_page(page, service.url)
    page.fill("[name=to]", "ada@example.com")
    page.fill("[name=to_name]", "Ada")
    page.fill("[name=cc]", "Jane <jane@example.com>, bob@example.com")
    page.fill("[name=bcc]", "audit@example.org")
    page.fill("[name=subject]", "Quarterly report")
    page.set_input_files("[name=attachments]", files=[
        {"name": "report.pdf", "mimeType": "application/pdf", "buffer": REPORT},
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": NOTES},
    ])
    chosen = page.get_by_test_id("attachments-list")
    expect(chosen).to_contain_text("report.pdf")
    expect(chosen).to_contain_text("4.0 KB")

    page.get_by_role("button", name="Send email").click()

    expect(page.get_by_test_id("email-id")).to_have_text(ROUTED_ID)
    [request] = routed_api
    parts = multipart_fields(request)
    fields = {name: data.decode() for name, filename, _, data in parts if filename is None}
    assert fields == {
        "to": "ada@example.com", "to_name": "Ada", "subject": "Quarterly report",
        "content": page.locator("[name=content]").input_value().replace("\n", "\r\n"),
        "cc": "Jane <jane@example.com>, bob@example.com", "bcc": "audit@example.org",
    }
    files = [(name, filename, kind, data) for name, filename, kind, data in parts if filename]
    assert files == [("attachments", "report.pdf", "application/pdf", REPORT),
                     ("attachments", "notes.txt", "text/plain", NOTES)]
    expect(page.get_by_test_id("email-to")).to_have_text("Ada <ada@example.com>")
    expect(page.get_by_test_id("email-cc")).to_have_text("Jane <jane@example.com>, bob@example.com")
    expect(page.get_by_test_id("email-bcc")).to_have_text("audit@example.org")
    expect(page.get_by_test_id("email-reply-to")).to_have_text("help@example.org")
    attachments = page.get_by_test_id("email-attachments").locator("li")
    expect(attachments).to_have_text([re.compile(r"report\.pdf\s*4\.0 KB"),
                                       re.compile(rf"notes\.txt\s*{len(NOTES)} B")])
    page.get_by_role("heading", name="Follow an email").scroll_into_view_if_needed()
    screenshot(page, "web-attachments", full_page=False)


def test_without_a_file_the_form_stays_json_with_cc_and_bcc_as_lists(
    page: Page, service: EmbeddedService, routed_api: list[Request],
) -> None:
    open_page(page, service.url)
    page.fill("[name=to]", "ada@example.com")
    page.fill("[name=cc]", ' "Doe, Jane" <jane@example.com> ,bob@example.com, ')
    page.fill("[name=subject]", "No files")

    page.get_by_role("button", name="Send email").click()

    expect(page.get_by_test_id("email-id")).to_have_text(ROUTED_ID)
    [request] = routed_api
    assert request.headers["content-type"] == "application/json"
    body = request.post_data_json
    assert body["cc"] == ['"Doe, Jane" <jane@example.com>', "bob@example.com"]
    assert "bcc" not in body  # an empty field is left out
    assert {key: body[key] for key in ("to", "to_name", "subject")} == {
        "to": "ada@example.com", "to_name": "", "subject": "No files"}


def test_the_status_of_an_email_without_cc_or_files_hides_those_rows(
    page: Page, service: EmbeddedService,
) -> None:
    """Against today's API (no ``recipients``, no ``attachments``) the page still shows ``to``."""
    open_page(page, service.url)
    page.fill("[name=to]", "ada@example.com")
    page.fill("[name=to_name]", "Ada")
    page.fill("[name=subject]", "Plain")

    page.get_by_role("button", name="Send email").click()

    expect(page.get_by_test_id("email-status")).to_have_text("sent", timeout=FINAL_TIMEOUT)
    expect(page.get_by_test_id("email-to")).to_have_text("Ada <ada@example.com>")
    for row in ("cc", "bcc", "reply-to", "attachments"):
        expect(page.get_by_test_id(f"email-{row}")).to_be_hidden()


def test_cc_bcc_and_a_file_reach_the_api_and_come_back_in_the_status(
    page: Page, service: EmbeddedService,
) -> None:
    """The same form through the real API: the email is sent, with every recipient and file."""
    open_page(page, service.url)
    page.fill("[name=to]", "ada@example.com")
    page.fill("[name=cc]", "Jane <jane@example.com>, bob@example.com")
    page.fill("[name=bcc]", "audit@example.org")
    page.fill("[name=subject]", "Through the API")
    page.set_input_files("[name=attachments]", files=[
        {"name": "report.pdf", "mimeType": "application/pdf", "buffer": REPORT},
    ])

    page.get_by_role("button", name="Send email").click()

    expect(page.get_by_test_id("email-status")).to_have_text("sent", timeout=FINAL_TIMEOUT)
    expect(page.get_by_test_id("email-cc")).to_have_text("Jane <jane@example.com>, bob@example.com")
    expect(page.get_by_test_id("email-bcc")).to_have_text("audit@example.org")
    expect(page.get_by_test_id("email-attachments")).to_contain_text("report.pdf")
    expect(page.get_by_test_id("email-attachments")).to_contain_text("4.0 KB")
