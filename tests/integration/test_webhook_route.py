"""``POST /webhooks/{provider}`` in-process on a real SQLite store: a verified request's events
recorded and shown on the email, a refused one stored nowhere; suppressions through the API
refuse the next send."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from micromailer.api.app import create_app
from micromailer.config import Settings
from micromailer.domain.events import BounceKind, EventType, ProviderEvent
from micromailer.domain.status import Status
from micromailer.store.engine import make_engine
from micromailer.store.migrate import upgrade
from micromailer.store.models import EmailEventRow, EmailRow
from micromailer.webhooks import registry
from micromailer.webhooks.base import Unverified, WebhookRequest

SECRET = b"route-test-secret"
SANDBOX_SECRET = b"sandbox-secret"


class HmacScheme:
    """A provider whose events are a JSON list signed with HMAC-SHA256 in ``x-signature``."""

    provider = "testmail"

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def receive(self, request: WebhookRequest, now: datetime) -> list[ProviderEvent]:
        expected = hmac.new(self.secret, request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("x-signature", "")):
            raise Unverified("bad signature")
        return [
            ProviderEvent(self.provider, EventType(item["type"]), now, item["id"],
                          email_id=item["email"], recipient=item.get("to"),
                          bounce=BounceKind(item["bounce"]) if "bounce" in item else None,
                          raw=item)
            for item in json.loads(request.body)
        ]


@pytest.fixture
def client(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setitem(registry.WEBHOOKS, "testmail", registry.ProviderWebhook(
        real=lambda _settings: HmacScheme(SECRET), sandbox=lambda: HmacScheme(SANDBOX_SECRET)))
    upgrade(settings.store_url)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def signed(events: list[dict[str, str]], secret: bytes = SECRET) -> dict[str, object]:
    body = json.dumps(events).encode()
    return {"content": body,
            "headers": {"x-signature": hmac.new(secret, body, hashlib.sha256).hexdigest()}}


def a_sent_email(client: TestClient, settings: Settings, to: str = "ada@example.com") -> str:
    answer = client.post("/email", json={"to": to, "subject": "s", "content": "c"})
    assert answer.status_code == 202, answer.text
    email_id: str = answer.json()["emailId"]
    with make_engine(settings.store_url).begin() as connection:
        connection.execute(update(EmailRow).where(EmailRow.id == email_id).values(
            status=Status.SENT.value, provider="testmail", provider_message_id="m"))
    return email_id


def event_count(settings: Settings) -> int:
    with make_engine(settings.store_url).connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(EmailEventRow)) or 0)


def test_a_verified_request_moves_the_email_and_shows_its_events(
    client: TestClient, settings: Settings,
) -> None:
    email_id = a_sent_email(client, settings)

    answer = client.post("/webhooks/testmail", **signed([
        {"type": "delivered", "id": "ev-1", "email": email_id, "to": "ada@example.com"},
        {"type": "opened", "id": "ev-2", "email": email_id},
        {"type": "delivered", "id": "ev-1", "email": email_id},
        {"type": "delivered", "id": "ev-3", "email": "no-such-email"},
    ]))

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"received": 4, "recorded": 2, "duplicates": 1, "unmatched": 1}
    shown = client.get(f"/email/{email_id}").json()
    assert shown["status"] == "delivered"
    assert [(e["type"], e["provider"]) for e in shown["events"]] == [
        ("delivered", "testmail"), ("opened", "testmail")]


@pytest.mark.parametrize("headers", [{"x-signature": "0" * 64}, {}])
def test_an_unverified_request_is_refused_and_stored_nowhere(
    client: TestClient, settings: Settings, headers: dict[str, str],
) -> None:
    email_id = a_sent_email(client, settings)
    body = json.dumps([{"type": "bounced", "id": "x", "email": email_id, "bounce": "hard"}])

    answer = client.post("/webhooks/testmail", content=body, headers=headers)

    assert answer.status_code == 401
    assert "not verified as coming from testmail" in answer.json()["error"]
    assert event_count(settings) == 0
    assert client.get(f"/email/{email_id}").json()["status"] == "sent"


def test_an_unknown_provider_is_a_404_that_names_the_known_ones(client: TestClient) -> None:
    answer = client.post("/webhooks/nosuch", content=b"[]")
    assert answer.status_code == 404
    assert "testmail" in answer.json()["error"]


def test_a_hard_bounce_suppresses_the_next_send_unless_overridden(
    client: TestClient, settings: Settings,
) -> None:
    email_id = a_sent_email(client, settings)
    client.post("/webhooks/testmail", **signed([
        {"type": "bounced", "id": "b1", "email": email_id, "to": "Ada@example.com",
         "bounce": "hard"}]))

    again = client.post("/email", json={"to": "bob@example.com", "cc": "ADA@example.com",
                                        "subject": "s", "content": "c"})
    forced = client.post("/email", json={"to": "ada@example.com", "subject": "s",
                                         "content": "c", "ignore_suppressions": True})

    assert again.status_code == 400
    assert again.json()["error"].startswith("ada@example.com is on this project's suppression")
    assert forced.status_code == 202
    listed = client.get("/suppressions").json()
    assert [(s["address"], s["reason"], s["emailId"]) for s in listed] == [
        ("ada@example.com", "bounced", email_id)]


def test_suppressions_are_added_read_and_removed_through_the_api(client: TestClient) -> None:
    added = client.post("/suppressions", json={"addresses": ["Carol@Example.com",
                                                             "dan@example.com"],
                                               "detail": "asked us to stop"})
    assert added.status_code == 201 and added.json() == {"added": 2}
    assert client.post("/suppressions", json={"addresses": ["carol@example.com"]}).json() == {
        "added": 0}
    assert client.get("/suppressions/carol@example.com").json()["reason"] == "manual"
    assert client.post("/email", json={"to": "carol@example.com", "subject": "s",
                                       "content": "c"}).status_code == 400

    assert client.delete("/suppressions/carol@example.com").status_code == 204
    assert client.delete("/suppressions/carol@example.com").status_code == 404
    assert client.post("/email", json={"to": "carol@example.com", "subject": "s",
                                       "content": "c"}).status_code == 202
    assert [s["address"] for s in client.get("/suppressions").json()] == ["dan@example.com"]
    assert [s["address"] for s in client.get(
        "/suppressions", params={"after": "dan@example.com"}).json()] == []


@pytest.mark.parametrize("body", [
    {"addresses": []}, {"addresses": ["not an address"]}, {"addresses": "x@example.com"}, {},
])
def test_bad_suppressions_get_a_sentence(client: TestClient, body: dict[str, object]) -> None:
    answer = client.post("/suppressions", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]


def test_a_sandbox_signed_event_moves_only_a_test_email(
    client: TestClient, settings: Settings,
) -> None:
    email_id = a_sent_email(client, settings)
    answer = client.post("/webhooks/testmail", **signed(
        [{"type": "delivered", "id": "s1", "email": email_id}], SANDBOX_SECRET))
    assert answer.status_code == 200 and answer.json()["unmatched"] == 1
    assert client.get(f"/email/{email_id}").json()["status"] == "sent"


