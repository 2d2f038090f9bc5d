"""The routes the web page needs: the page itself, recent emails, the Markdown preview, the
score history, and the sandbox relayed through the API (against a real sandbox on loopback)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from micromailer.api.app import create_app
from micromailer.api.routes.web import STATIC_DIR
from micromailer.config import KNOWN_PROVIDERS, Settings
from micromailer.health.base import ProviderHealth
from micromailer.health.strategy import make_strategy
from micromailer.sandbox import SandboxThread
from micromailer.store.health_snapshots import HealthSnapshotStore
from micromailer.store.migrate import upgrade
from tests.support.processes import free_port

VALID = {"to": "ada@example.com", "subject": "Hi", "content": "**bold**"}


@pytest.fixture
def sandbox() -> Iterator[SandboxThread]:
    with SandboxThread() as running:
        yield running


def _client(tmp_path: Path, **values: Any) -> TestClient:
    settings = Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[call-arg]
    upgrade(settings.store_url)
    return TestClient(create_app(settings))


def test_the_page_and_its_files_are_local_and_served_under_a_strict_policy(
    client: TestClient,
) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "object-src 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert 'data-testid="email-id"' in page.text and 'data-testid="email-status"' in page.text
    for name in ("to", "to_name", "subject", "content"):
        assert f'name="{name}"' in page.text
    # Our own files; vendor/ holds the API reference's third-party bundles (test_docs_assets.py).
    files = [p for p in STATIC_DIR.rglob("*")
             if p.is_file() and "vendor" not in p.relative_to(STATIC_DIR).parts]
    assert {p.suffix for p in files} == {".html", ".css", ".js", ".svg"}
    for path in files:
        text = path.read_text()
        assert not re.search(r"(src|href)=\"https?://|@import|url\(https?:", text), path
        assert "innerHTML" not in text and "insertAdjacentHTML" not in text, path
        served = client.get(f"/static/{path.relative_to(STATIC_DIR)}")
        assert served.status_code == 200, path
        assert served.headers["x-content-type-options"] == "nosniff"


def test_recent_emails_are_listed_newest_first_without_attempts(client: TestClient) -> None:
    assert client.get("/emails").json() == []
    ids = [client.post("/email", json={**VALID, "subject": f"n{n}"}).json()["emailId"]
           for n in range(3)]

    rows = client.get("/emails", params={"limit": 2}).json()

    assert [row["emailId"] for row in rows] == ids[::-1][:2]
    assert rows[0] == {**rows[0], "status": "queued", "subject": "n2", "to": "ada@example.com",
                       "provider": None, "attemptCount": 0}
    assert "attempts" not in rows[0]
    for limit in (0, 101, "x"):
        refused = client.get("/emails", params={"limit": limit})
        assert refused.status_code == 400 and refused.json()["error"].startswith("`limit`")


def test_the_preview_renders_markdown_and_escapes_raw_html(client: TestClient) -> None:
    body = client.post("/preview", json={"content": "# Hi\n\n<script>x()</script>"}).json()

    assert "<h1>Hi</h1>" in body["html"]
    assert "<script>" not in body["html"] and "&lt;script&gt;x()&lt;/script&gt;" in body["html"]
    assert body["text"] == "# Hi\n\n<script>x()</script>\n"
    missing = client.post("/preview", json={})
    assert missing.status_code == 400 and "content" in missing.json()["error"]


def test_the_score_history_samples_the_live_scores_of_this_process(client: TestClient) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    failed_at = time.time()
    HealthSnapshotStore(services.store.engine).save_health(
        [ProviderHealth("sendgrid", 0.0, 0.9, failed_at)]
    )
    # What the configured strategy makes of it (the original: 50 * 0.9 = 45, climbing slowly).
    strategy = make_strategy(services.settings.strategy)
    expected = strategy.score(ProviderHealth("sendgrid", 50.0, 0.9, failed_at), failed_at)

    deadline = time.monotonic() + 5
    while True:
        history = client.get("/providers/history", params={"seconds": 60}).json()
        lowered = [s for s in history["samples"] if s["scores"]["sendgrid"] < 50]
        if lowered or time.monotonic() > deadline:
            break
        time.sleep(0.1)

    assert history["providers"] == list(KNOWN_PROVIDERS)
    assert history["intervalSeconds"] == 1.0
    assert lowered and lowered[-1]["scores"]["sendgrid"] == pytest.approx(expected, abs=0.1)
    assert lowered[-1]["scores"]["mandrill"] == 49.0
    assert all(s["at"] >= history["startedAt"] for s in history["samples"])
    assert client.get("/providers/history", params={"seconds": 901}).status_code == 400


def test_the_sandbox_is_shown_and_switched_through_the_api(
    tmp_path: Path, sandbox: SandboxThread,
) -> None:
    with _client(tmp_path, sandbox_url=sandbox.url) as client:
        info = client.get("/sandbox").json()
        assert info["enabled"] is True and info["url"] == sandbox.url
        assert [p["name"] for p in info["providers"]] == list(KNOWN_PROVIDERS)
        assert not any(p["outage"] for p in info["providers"])

        down = client.put("/sandbox/sendgrid/outage", json={"outage": True})
        assert down.status_code == 200 and down.json()["outage"] is True
        sendgrid = sandbox.app.state.sandbox["sendgrid"]
        assert sendgrid.faults.settings.fail_rate == 1.0
        assert client.get("/sandbox").json()["providers"][0]["outage"] is True
        assert client.put("/sandbox/sendgrid/outage", json={"outage": False}).json()["outage"] \
            is False
        assert sendgrid.faults.settings.fail_rate == 0.0

        assert client.get("/sandbox/mandrill/messages").json() == []
        unknown = client.put("/sandbox/nosuchmail/outage", json={"outage": True})
        assert unknown.status_code == 404 and "nosuchmail" in unknown.json()["error"]
        bad = client.put("/sandbox/sendgrid/outage", json={"outage": "maybe"})
        assert bad.status_code == 400


def test_the_sandbox_messages_are_relayed_newest_first(
    tmp_path: Path, sandbox: SandboxThread,
) -> None:
    import httpx

    for n in range(3):
        httpx.post(f"{sandbox.url}/v3/mail/send", headers={"Authorization": "Bearer k"}, json={
            "personalizations": [{"to": [{"email": f"u{n}@example.com"}]}],
            "from": {"email": "a@example.com"}, "subject": f"s{n}",
            "content": [{"type": "text/plain", "value": "x"}],
        }).raise_for_status()
    with _client(tmp_path, sandbox_url=sandbox.url) as client:
        messages = client.get("/sandbox/sendgrid/messages", params={"limit": 2}).json()

    assert [(m["subject"], m["to"]) for m in messages] == [("s2", "u2@example.com"),
                                                           ("s1", "u1@example.com")]
    assert set(messages[0]) == {"messageId", "to", "toName", "subject", "receivedAt"}


def test_without_sandbox_mode_the_sandbox_routes_say_so(tmp_path: Path) -> None:
    with _client(tmp_path, sendgrid_api_key="real-key") as client:
        assert client.get("/sandbox").json() == {"enabled": False, "url": None, "providers": []}
        refused = client.put("/sandbox/sendgrid/outage", json={"outage": True})
        assert refused.status_code == 404 and "Sandbox mode is off" in refused.json()["error"]
        assert client.get("/sandbox/sendgrid/messages").status_code == 404


def test_a_sandbox_that_does_not_answer_is_a_502_with_a_sentence(tmp_path: Path) -> None:
    with _client(tmp_path, sandbox_url=f"http://127.0.0.1:{free_port()}") as client:
        answer = client.get("/sandbox")
    assert answer.status_code == 502
    assert "did not answer" in answer.json()["error"]


def test_the_new_routes_are_in_the_openapi_spec(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/emails", "/preview", "/providers/history", "/sandbox",
            "/sandbox/{provider}/outage", "/sandbox/{provider}/messages"} <= set(paths)
    assert list(paths["/"]["get"]["responses"]["200"]["content"]) == ["text/html"]
