"""The HTTP contract of DESIGN.md, every bad input answered with a 4xx and a sentence."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from micromailer.config import KNOWN_PROVIDERS, Settings

VALID = {"to": "ada@example.com", "to_name": "Ada", "subject": "Hi", "content": "**bold**"}


def _count_emails(settings: Settings) -> int:
    engine = create_engine(settings.store_url)
    with engine.connect() as connection:
        count: int = connection.execute(text("SELECT count(*) FROM emails")).scalar_one()
    engine.dispose()
    return count


def _assert_rejected(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert body["status"] == "failed"
    assert isinstance(body["error"], str) and body["error"].endswith(".")
    assert "Traceback" not in response.text  # type: ignore[attr-defined]
    return body


@pytest.mark.parametrize("encoding", ["json", "urlencoded", "multipart"])
def test_post_email_is_accepted_in_every_encoding_and_stored_queued(
    client: TestClient, settings: Settings, encoding: str
) -> None:
    if encoding == "json":
        response = client.post("/email", json=VALID)
    elif encoding == "urlencoded":
        response = client.post("/email", data=VALID)
    else:
        response = client.post("/email", files={k: (None, v) for k, v in VALID.items()})

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued"
    uuid.UUID(body["emailId"])
    assert response.headers["location"] == f"/email/{body['emailId']}"
    shown = client.get(response.headers["location"]).json()
    assert shown["status"] == "queued"
    assert shown["emailId"] == body["emailId"]
    assert shown["attempts"] == []
    assert set(shown) >= {"emailId", "status", "provider", "attempts", "createdAt", "updatedAt",
                          "error"}
    assert _count_emails(settings) == 1


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({**VALID, "to": "not-an-address"}, "`to`"),
        ({**VALID, "subject": ""}, "`subject`"),
        ({k: v for k, v in VALID.items() if k != "content"}, "`content`"),
        ({**VALID, "subject": "Hi\r\nBcc: victim@example.com"}, "`subject`"),
        ({**VALID, "to_name": "Ada\nBcc: x@example.com"}, "`to_name`"),
        ({**VALID, "to": "ada@example.com\r\nBcc: x@example.com"}, "`to`"),
        ({**VALID, "subject": 42}, "`subject`"),
    ],
)
def test_invalid_fields_get_400_with_a_sentence_and_nothing_is_stored(
    client: TestClient, settings: Settings, payload: dict[str, object], words: str
) -> None:
    body = _assert_rejected(client.post("/email", json=payload), 400)
    assert words in str(body["error"])
    assert body["details"]
    assert _count_emails(settings) == 0


def test_malformed_json_gets_400(client: TestClient) -> None:
    response = client.post(
        "/email", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert "not valid JSON" in str(_assert_rejected(response, 400)["error"])


def test_a_json_array_gets_400(client: TestClient) -> None:
    _assert_rejected(client.post("/email", json=[VALID]), 400)


def test_an_unsupported_content_type_gets_415(client: TestClient) -> None:
    response = client.post("/email", content=b"to=x", headers={"content-type": "text/plain"})
    assert "application/json" in str(_assert_rejected(response, 415)["error"])


def test_a_body_over_the_limit_gets_413_and_nothing_is_stored(
    client: TestClient, settings: Settings
) -> None:
    big = {**VALID, "content": "x" * (settings.max_body_bytes + 10)}
    response = client.post("/email", json=big)
    _assert_rejected(response, 413)
    assert response.headers["connection"] == "close"  # the body was never read
    assert _count_emails(settings) == 0


def test_an_unknown_email_is_404_notfound(client: TestClient) -> None:
    email_id = str(uuid.uuid4())
    response = client.get(f"/email/{email_id}")
    assert response.status_code == 404
    assert response.json() == {"status": "notfound", "emailId": email_id}


def test_health_readiness_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "store": "ok", "broker": "ok"}
    spec = client.get("/openapi.json").json()
    paths = set(spec["paths"])
    assert {"/email", "/email/{email_id}", "/providers", "/healthz", "/readyz"} <= paths
    assert set(spec["paths"]["/email"]["post"]["requestBody"]["content"]) == {
        "application/json", "application/x-www-form-urlencoded", "multipart/form-data"}
    assert client.get("/docs").status_code == 200


def test_providers_lists_the_sandbox_providers_at_full_score(client: TestClient) -> None:
    rows = client.get("/providers").json()
    assert [row["name"] for row in rows] == list(KNOWN_PROVIDERS)
    assert [(row["name"], row["score"], row["baseScore"]) for row in rows[:2]] == [
        ("sendgrid", 50.0, 50.0), ("mandrill", 49.0, 49.0)]


def test_an_unknown_route_is_a_json_404_with_a_sentence(client: TestClient) -> None:
    _assert_rejected(client.get("/nope"), 404)
