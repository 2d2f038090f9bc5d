"""API keys and projects over real HTTP against ``micromailer run``, keys made by the CLI."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from micromailer.api.gate import MALFORMED, NO_KEY, NOT_ADMIN, UNKNOWN_KEY
from tests.support.client import ApiClient
from tests.support.keys import create_key, keys_command
from tests.support.service import EmbeddedService

pytestmark = pytest.mark.e2e

#: The contract: a revoked key stops working everywhere within this many seconds.
REVOCATION_BOUND = 5.0


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedService]:
    running = EmbeddedService(tmp_path_factory.mktemp("keys") / "var").start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def before_keys(service: EmbeddedService) -> str:
    """An email sent while no key existed: authentication was off, and it has no project."""
    response = service.post_json(to="open@example.com", subject="before keys", content="x")
    assert response.status_code == 202, response.text
    email_id: str = response.json()["emailId"]
    return email_id


@pytest.fixture(scope="module")
def keys(service: EmbeddedService, before_keys: str) -> dict[str, str]:
    made = {
        "alpha": create_key(service.env, "alpha-ci", "--project", "alpha"),
        "alpha2": create_key(service.env, "alpha-web", "--project", "alpha"),
        "beta": create_key(service.env, "beta"),
        "admin": create_key(service.env, "ops", "--scope", "admin"),
    }
    _until(lambda: service.post_json(to="a@example.com", subject="s", content="c")
           .status_code == 401, "authentication to turn on once a key exists")
    return made


def _until(check: object, what: str, within: float = REVOCATION_BOUND) -> float:
    """Poll ``check`` until true; how long it took. Fails past ``within`` seconds."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if check():  # type: ignore[operator]
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"waited {within:.0f} s for {what}")


def _send(client: ApiClient, subject: str) -> str:
    response = client.post_json(to="user@example.com", subject=subject, content="Hello")
    assert response.status_code == 202, response.text
    email_id: str = response.json()["emailId"]
    return email_id


def test_with_no_key_every_request_needs_one_and_is_told_how(
    service: EmbeddedService, keys: dict[str, str]
) -> None:
    for response in (
        service.post_json(to="a@example.com", subject="s", content="c"),
        service.post_form(to="a@example.com", subject="s", content="c"),
        service.http.get(f"{service.url}/emails"),
        service.http.get(f"{service.url}/providers"),
        service.http.post(f"{service.url}/preview", json={"content": "# hi"}),
    ):
        assert response.status_code == 401, response.text
        assert response.json() == {"status": "failed", "error": NO_KEY, "details": []}
        assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("header", "sentence"), [
    ("Bearer mm_live_notakey", UNKNOWN_KEY),
    ("Basic dXNlcjpwYXNz", MALFORMED),
    ("Bearer", MALFORMED),
    ("Bearer two words", MALFORMED),
])
def test_a_wrong_or_malformed_key_is_refused_with_a_sentence(
    service: EmbeddedService, keys: dict[str, str], header: str, sentence: str
) -> None:
    response = service.http.post(
        f"{service.url}/email", json={"to": "a@example.com", "subject": "s", "content": "c"},
        headers={"Authorization": header},
    )

    assert response.status_code == 401
    assert response.json()["error"] == sentence


def test_public_pages_need_no_key(service: EmbeddedService, keys: dict[str, str]) -> None:
    for path in ("/", "/healthz", "/readyz", "/openapi.json", "/docs", "/static/app.css"):
        assert service.http.get(f"{service.url}{path}").status_code == 200, path


def test_an_email_is_seen_by_its_project_only(
    service: EmbeddedService, keys: dict[str, str], before_keys: str
) -> None:
    alpha, alpha2 = service.as_key(keys["alpha"]), service.as_key(keys["alpha2"])
    beta, admin = service.as_key(keys["beta"]), service.as_key(keys["admin"])
    email_id = _send(alpha, "alpha's own")

    assert alpha.email(email_id)["emailId"] == email_id
    assert alpha2.email(email_id)["emailId"] == email_id  # another key of the same project
    assert admin.email(email_id)["emailId"] == email_id
    hidden = beta.http.get(f"{service.url}/email/{email_id}")
    unknown_id = "00000000-0000-4000-8000-000000000000"
    unknown = beta.http.get(f"{service.url}/email/{unknown_id}")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json() == {"status": "notfound", "emailId": email_id}
    assert unknown.json() == {"status": "notfound", "emailId": unknown_id}
    # an email of no project (sent while authentication was off) is an admin's only
    assert beta.http.get(f"{service.url}/email/{before_keys}").status_code == 404
    assert admin.email(before_keys)["emailId"] == before_keys


def test_recent_emails_list_the_callers_project_only(
    service: EmbeddedService, keys: dict[str, str], before_keys: str
) -> None:
    alpha, beta = service.as_key(keys["alpha"]), service.as_key(keys["beta"])
    admin = service.as_key(keys["admin"])
    alpha_id, beta_id = _send(alpha, "listed alpha"), _send(beta, "listed beta")

    def ids(client: ApiClient) -> set[str]:
        response = client.http.get(f"{service.url}/emails", params={"limit": 100})
        assert response.status_code == 200, response.text
        return {row["emailId"] for row in response.json()}

    assert alpha_id in ids(alpha) and beta_id not in ids(alpha)
    assert beta_id in ids(beta) and alpha_id not in ids(beta) and before_keys not in ids(beta)
    assert {alpha_id, beta_id, before_keys} <= ids(admin)


def test_admin_routes_need_an_admin_key(service: EmbeddedService, keys: dict[str, str]) -> None:
    send_key, admin = service.as_key(keys["beta"]), service.as_key(keys["admin"])
    for method, path, body in (
        ("GET", "/metrics", None),
        ("GET", "/sandbox", None),
        ("PUT", "/sandbox/sendgrid/outage", {"outage": False}),
        ("GET", "/sandbox/sendgrid/messages", None),
    ):
        refused = send_key.http.request(method, f"{service.url}{path}", json=body)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["error"] == NOT_ADMIN
        allowed = admin.http.request(method, f"{service.url}{path}", json=body)
        assert allowed.status_code == 200, (path, allowed.text)


def test_a_key_is_delivered_through_the_providers(
    service: EmbeddedService, keys: dict[str, str]
) -> None:
    alpha = service.as_key(keys["alpha"])
    email_id = _send(alpha, "delivered with a key")

    assert alpha.wait_final([email_id])[email_id]["status"] == "sent"


def test_the_store_keeps_no_secret_and_the_list_shows_none(
    service: EmbeddedService, keys: dict[str, str]
) -> None:
    listed = keys_command(service.env, "list", "--json")
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    database = (service.data_dir / "micromailer.sqlite3").read_bytes()
    for key in keys.values():
        assert key not in listed.stdout
        assert key.encode() not in database
    assert rows["beta"]["project"] == "beta"  # a key's own project by default
    assert rows["alpha-ci"]["project"] == rows["alpha-web"]["project"] == "alpha"
    assert rows["ops"]["scope"] == "admin"
    assert keys["alpha"].startswith(rows["alpha-ci"]["prefix"])


def test_a_revoked_key_stops_working_within_the_bound(
    service: EmbeddedService, tmp_path: Path
) -> None:
    key = create_key(service.env, "short-lived")
    client = service.as_key(key)
    _until(lambda: client.http.get(f"{service.url}/emails").status_code == 200,
           "the new key to be accepted")
    done = keys_command(service.env, "revoke", "short-lived")
    assert done.returncode == 0, done.stderr

    _until(lambda: client.http.get(f"{service.url}/emails").status_code == 401,
           "the revoked key to be refused")
    response = client.post_json(to="a@example.com", subject="after revoke", content="x")
    assert response.status_code == 401
    assert response.json()["error"] == UNKNOWN_KEY
    again = keys_command(service.env, "revoke", "short-lived")
    assert again.returncode != 0 and "no live key" in again.stderr


def test_a_key_name_is_taken_once(service: EmbeddedService, keys: dict[str, str]) -> None:
    done = keys_command(service.env, "create", "beta")

    assert done.returncode != 0
    assert "already exists" in done.stderr
    assert not httpx.get(f"{service.url}/emails").is_success
