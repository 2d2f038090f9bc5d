"""Other sites' pages in a real browser (headless Chromium) against ``micromailer run``: a
page of another site posting a form is refused and stores nothing; a page of an allowed origin
sends through CORS with its key and reads the answer; any other origin's script cannot."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest

from tests.support.browser import require_playwright
from tests.support.keys import create_key
from tests.support.processes import free_port
from tests.support.service import EmbeddedService

require_playwright()

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = pytest.mark.e2e

SEND = """
async (args) => {
  const [url, key] = args;
  try {
    const response = await fetch(url + '/email', {
      method: 'POST',
      headers: {'content-type': 'application/json', 'authorization': 'Bearer ' + key,
                'idempotency-key': 'browser-1'},
      body: JSON.stringify({to: 'ada@example.com', subject: 'From the app', content: 'Hi'}),
    });
    return {status: response.status, location: response.headers.get('location'),
            body: await response.json()};
  } catch (error) {
    return {error: String(error)};
  }
}
"""


class Site:
    """Another site: one page, served on its own loopback port as ``http://localhost:PORT``."""

    def __init__(self, html: str = "<!doctype html><title>another site</title>") -> None:
        self.port = free_port()
        self.origin = f"http://localhost:{self.port}"
        page = html.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/html")
                self.send_header("content-length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def app_site() -> Iterator[Site]:
    site = Site()
    yield site
    site.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, app_site: Site,
            ) -> Iterator[tuple[EmbeddedService, str]]:
    """``micromailer run`` allowing ``app_site``'s origin, with one key."""
    running = EmbeddedService(tmp_path_factory.mktemp("browser-sites") / "var",
                              MICROMAILER_ALLOWED_ORIGINS=app_site.origin).start()
    try:
        yield running, create_key(running.env, "app")
    finally:
        running.stop()


def test_another_sites_form_is_refused_in_the_browser_and_stores_nothing(
    chromium: Browser, service: tuple[EmbeddedService, str],
) -> None:
    running, _ = service
    evil = Site(f"""<!doctype html><title>win a prize</title>
      <form method="post" action="{running.url}/email">
        <input name="to" value="victim@example.com"><input name="subject" value="hi">
        <input name="content" value="x"><button>Claim</button>
      </form>""")
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(f"{evil.origin}/")
        with page.expect_response(f"{running.url}/email") as answer:
            page.get_by_role("button", name="Claim").click()
        refused = answer.value
        status, body = refused.status, refused.json()
        request_headers = refused.request.all_headers()
    finally:
        context.close()
        evil.close()

    assert status == 403
    assert "another site" in body["error"]
    assert request_headers["origin"] == evil.origin
    assert request_headers["sec-fetch-site"] == "cross-site"
    admin = create_key(running.env, "ops", "--scope", "admin")
    listed = running.http.get(f"{running.url}/emails",
                              headers={"Authorization": f"Bearer {admin}"}).json()
    assert [row for row in listed if row["subject"] == "hi"] == []


def test_an_allowed_origins_page_sends_with_its_key_and_reads_the_answer(
    chromium: Browser, service: tuple[EmbeddedService, str], app_site: Site,
) -> None:
    running, key = service
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(f"{app_site.origin}/")
        result = page.evaluate(SEND, [running.url, key])
    finally:
        context.close()

    assert result["status"] == 202, result
    assert result["location"] == f"/email/{result['body']['emailId']}"


def test_another_origins_script_cannot_call_the_api_even_with_a_key(
    chromium: Browser, service: tuple[EmbeddedService, str],
) -> None:
    running, key = service
    other = Site()
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(f"{other.origin}/")
        result = page.evaluate(SEND, [running.url, key])
    finally:
        context.close()
        other.close()

    assert "error" in result and "Failed to fetch" in result["error"], result
