"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) in headless Chromium against ``micromailer run``,
with every request to another host blocked: both render the operations from files in the
package, and break neither their Content-Security-Policy nor anything else in the console.
The sandbox's own ``/docs`` and ``/redoc`` are served the same way.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.support.browser import require_playwright
from tests.support.service import EmbeddedService

require_playwright()
from playwright.sync_api import Page, Route, expect  # noqa: E402  (after the check above)

pytestmark = pytest.mark.e2e

LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def offline(page: Page) -> list[str]:
    """Block every request that leaves this machine; return the list of those blocked."""
    blocked: list[str] = []

    def route(request_route: Route) -> None:
        url = request_route.request.url
        if urlsplit(url).scheme in ("http", "https") and urlsplit(url).hostname not in LOCAL_HOSTS:
            blocked.append(url)
            request_route.abort()
        else:
            request_route.continue_()

    page.route("**/*", route)
    return blocked


def test_swagger_ui_renders_every_operation_offline_under_the_page_policy(
    page: Page, service: EmbeddedService,
) -> None:
    blocked = offline(page)
    response = page.goto(f"{service.url}/docs")
    assert response is not None and response.status == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe" not in policy

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("micromailer")
    operation = page.locator("#operations-emails-create_email_email_post")
    expect(operation).to_be_visible()
    operation.locator(".opblock-summary").click()
    expect(operation).to_contain_text("to_name")
    expect(page.locator(".opblock")).to_have_count(25)
    # The bearer scheme: an Authorize button, and a lock on the 21 operations that need a key.
    expect(page.get_by_role("button", name="Authorize")).to_be_visible()
    expect(page.locator(".opblock .authorization__btn")).to_have_count(21)
    page.get_by_role("button", name="Authorize").click()
    expect(page.locator(".auth-container")).to_contain_text("bearerAuth")
    expect(page.locator(".auth-container")).to_contain_text("http, Bearer")
    assert blocked == []


def test_redoc_renders_every_operation_offline_under_the_page_policy(
    page: Page, service: EmbeddedService,
) -> None:
    blocked = offline(page)
    response = page.goto(f"{service.url}/redoc")
    assert response is not None and response.status == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "worker-src blob:" in policy

    expect(page.locator("h1")).to_contain_text("micromailer")
    for summary in ("Queue an email for delivery", "Put a fake provider into outage, or back",
                    "The web page"):
        expect(page.get_by_role("heading", name=summary)).to_be_visible()
    # One section per operation, each listed in the menu too.
    expect(page.locator("[data-section-id*='operation/']")).to_have_count(2 * 25)
    # The bearer scheme on the 21 operations that need a key, each with its 401.
    expect(page.get_by_role("heading", name="Authorizations:")).to_have_count(21)
    expect(page.get_by_role("button", name="401 No valid API key")).to_have_count(21)
    assert blocked == []


def test_the_sandbox_serves_its_reference_from_the_package_too(
    page: Page, service: EmbeddedService,
) -> None:
    blocked = offline(page)
    page.goto(f"{service.sandbox_url}/docs")
    expect(page.locator("#operations-control-update_faults__sandbox__provider__faults_put")
           ).to_be_visible()
    page.goto(f"{service.sandbox_url}/redoc")
    expect(page.get_by_role("heading", name="Update Faults")).to_be_visible()
    assert blocked == []
