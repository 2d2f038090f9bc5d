"""Resend's webhook: Svix signatures made here with the ``standardwebhooks`` library, replays,
Resend's events, every row of its table, the spec's webhooks, and the sandbox's round trip."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from standardwebhooks.webhooks import Webhook

from micromailer.config import Settings
from micromailer.domain.events import BounceKind, EventType
from micromailer.sandbox.events import SIGNERS, SandboxEvent
from micromailer.sandbox.events.resend import event_body
from micromailer.webhooks import resend
from micromailer.webhooks.base import Malformed, Unverified, WebhookRequest
from tests.contract.helpers import body_validator, specs_dir

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
EMAIL_ID = "9d3c1b2a-0e4f-4a5b-8c7d-6e5f4a3b2c1d"
RESEND_ID = "56761188-7520-42d8-8898-ff6fc54ce618"


def now() -> datetime:
    """Svix's timestamps are checked against the wall clock (by the library)."""
    return datetime.now(UTC)


def request(body: dict[str, Any] | bytes, *, secret: str = SECRET, at: datetime | None = None,
            svix_id: str = "msg_2Lh9KRb0pzN4LePd3XiA4dWmkbU", drop: str = "") -> WebhookRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    at = at or now()
    headers = {
        "svix-id": svix_id,
        "svix-timestamp": str(int(at.timestamp())),
        "svix-signature": Webhook(secret).sign(svix_id, at, raw.decode()),
    }
    headers = {name: value for name, value in headers.items() if name != f"svix-{drop}"}
    return WebhookRequest("https://mm.example/webhooks/resend", headers, raw)


#: Resend's example events (its webhook event types page), with the ``email_id`` tag
#: micromailer's adapter sends.
DATA = {
    "broadcast_id": "8b146471-e88e-4322-86af-016cd36fd216",
    "created_at": "2024-11-22T23:41:11.894719+00:00", "email_id": RESEND_ID,
    "from": "Acme <onboarding@resend.dev>", "to": ["delivered@resend.dev"],
    "subject": "Sending this example", "template_id": "43f68331-0622-4e15-8202-246a0388854b",
    "tags": {"category": "confirm_email", "email_id": EMAIL_ID},
}
BOUNCED = {"type": "email.bounced", "created_at": "2024-11-22T23:41:12.126Z", "data": {
    **DATA, "bounce": {
        "diagnosticCode": ["smtp; 550 5.5.0 Requested action not taken: mailbox unavailable"],
        "message": "The recipient's email address does not exist.",
        "subType": "General", "type": "Permanent"}}}
CLICKED = {"type": "email.clicked", "created_at": "2024-11-22T23:41:12.126Z", "data": {
    **DATA, "click": {"ipAddress": "122.115.53.11", "link": "https://resend.com",
                      "timestamp": "2024-11-24T05:00:57.163Z",
                      "userAgent": "Mozilla/5.0"}}}
DELIVERED = {"type": "email.delivered", "created_at": "2024-11-22T23:41:12.126Z", "data": DATA}


def test_a_signed_event_is_read() -> None:
    [event] = resend.ResendWebhook(SECRET).receive(request(BOUNCED), now())

    assert (event.type, event.bounce) == (EventType.BOUNCED, BounceKind.HARD)
    assert (event.email_id, event.message_id, event.recipient) == (
        EMAIL_ID, RESEND_ID, "delivered@resend.dev")
    assert event.event_id == "msg_2Lh9KRb0pzN4LePd3XiA4dWmkbU"
    assert event.at == datetime(2024, 11, 22, 23, 41, 12, 126000, tzinfo=UTC)
    assert event.detail == ("email.bounced (Permanent, General): The recipient's email address "
                            "does not exist.")
    assert event.raw == BOUNCED and event.suppresses


def test_clicks_and_deliveries_are_read() -> None:
    scheme = resend.ResendWebhook(SECRET)
    [click] = scheme.receive(request(CLICKED), now())
    [delivered] = scheme.receive(request(DELIVERED), now())
    assert (click.type, click.detail) == (EventType.CLICKED, "email.clicked: https://resend.com")
    assert (delivered.type, delivered.detail) == (EventType.DELIVERED, "email.delivered")


def test_an_event_naming_several_recipients_gives_one_event_each() -> None:
    body = {**DELIVERED, "data": {**DATA, "to": ["a@x.test", "b@x.test"]}}
    events = resend.ResendWebhook(SECRET).receive(request(body), now())
    assert [e.recipient for e in events] == ["a@x.test", "b@x.test"]
    assert len({e.event_id for e in events}) == 2


def test_tags_as_the_send_writes_them_are_read_too() -> None:
    body = {**DELIVERED, "data": {**DATA, "tags": [{"name": "email_id", "value": EMAIL_ID}]}}
    [event] = resend.ResendWebhook(SECRET).receive(request(body), now())
    assert event.email_id == EMAIL_ID


@pytest.mark.parametrize("forgery", ["secret", "body", "id", "timestamp"])
def test_a_forged_request_is_refused(forgery: str) -> None:
    scheme = resend.ResendWebhook(SECRET)
    other_secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    good = request(BOUNCED, secret=other_secret if forgery == "secret" else SECRET)
    headers = dict(good.headers)
    body = good.body
    if forgery == "body":
        body = body.replace(b"Permanent", b"Transient")
    elif forgery == "id":
        headers["svix-id"] = "msg_other"
    elif forgery == "timestamp":
        headers["svix-timestamp"] = str(int(headers["svix-timestamp"]) - 1)

    with pytest.raises(Unverified, match="does not verify"):
        scheme.receive(WebhookRequest(good.url, headers, body), now())


@pytest.mark.parametrize("missing", ["id", "timestamp", "signature"])
def test_a_request_without_a_svix_header_is_refused(missing: str) -> None:
    with pytest.raises(Unverified, match=f"svix-{missing}"):
        resend.ResendWebhook(SECRET).receive(request(BOUNCED, drop=missing), now())


def test_an_old_or_future_timestamp_is_a_replay() -> None:
    scheme = resend.ResendWebhook(SECRET)
    old = request(BOUNCED, at=now() - timedelta(minutes=6))
    with pytest.raises(Unverified, match="replay"):
        scheme.receive(old, now())
    # The library's own check, against the wall clock, when the given clock agrees.
    with pytest.raises(Unverified, match="too old"):
        scheme.receive(old, now() - timedelta(minutes=6))
    with pytest.raises(Unverified, match="replay"):
        scheme.receive(request(BOUNCED, at=now() + timedelta(minutes=6)), now())
    with pytest.raises(Unverified, match="Unix time"):
        scheme.receive(WebhookRequest("u", {**request(BOUNCED).headers,
                                            "svix-timestamp": "yesterday"}, b"{}"), now())


def test_a_resent_event_keeps_its_event_id() -> None:
    scheme = resend.ResendWebhook(SECRET)
    [first] = scheme.receive(request(DELIVERED), now())
    [again] = scheme.receive(request(DELIVERED), now())
    assert first.event_id == again.event_id


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "not JSON"),
    (b"[]", "not a Resend event"),
    (b'{"data": {}}', "not a Resend event"),
    (json.dumps({**DELIVERED, "data": {**DATA, "to": ["a@x.test"] * 1001}}).encode(),
     "1001 recipients"),
])
def test_a_signed_body_that_is_no_event_is_malformed(body: bytes, message: str) -> None:
    with pytest.raises(Malformed, match=message):
        resend.ResendWebhook(SECRET).receive(request(body), now())


def body_for(key: str) -> dict[str, Any]:
    name, _, rest = key.partition("/")
    kind, _, sub = rest.partition("/")
    data: dict[str, Any] = dict(DATA)
    if kind:
        data["bounce"] = {"type": kind, "subType": sub or "General", "message": "m",
                          "diagnosticCode": []}
    return {"type": name, "created_at": "2024-11-22T23:41:12.126Z", "data": data}


@pytest.mark.parametrize(("key", "expected"), sorted(resend.EVENTS.items()))
def test_every_row_of_the_event_table(key: str, expected: tuple[EventType, Any]) -> None:
    [event] = resend.ResendWebhook(SECRET).receive(request(body_for(key)), now())
    assert (event.type, event.bounce) == expected


def test_other_events_are_unknown() -> None:
    body = {"type": "contact.created", "created_at": "2024-11-22T23:41:12.126Z",
            "data": {"id": "c1", "email": "a@x.test"}}
    [event] = resend.ResendWebhook(SECRET).receive(request(body), now())
    assert event.type is EventType.UNKNOWN and event.message_id is None


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    text = (specs_dir() / "resend" / "resend.yaml").read_text("utf-8")
    document: dict[str, Any] = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return document


def test_every_email_event_of_the_spec_has_a_row(spec: dict[str, Any]) -> None:
    names = [name for name in spec["webhooks"] if name.startswith("email.")]
    assert names and set(names) <= set(resend.EVENTS)


def sandbox_events() -> list[SandboxEvent]:
    at = datetime(2026, 3, 1, 11, 59, 30, 250000, tzinfo=UTC)
    return [
        SandboxEvent(EventType.DELIVERED, EMAIL_ID, RESEND_ID, "bob@example.com", at),
        SandboxEvent(EventType.BOUNCED, EMAIL_ID, RESEND_ID,
                     "bounce@simulator.micromailer.test", at, bounce=BounceKind.HARD),
        SandboxEvent(EventType.BOUNCED, EMAIL_ID, RESEND_ID, "soft@x.test", at,
                     bounce=BounceKind.SOFT),
        SandboxEvent(EventType.COMPLAINED, EMAIL_ID, RESEND_ID,
                     "complain@simulator.micromailer.test", at),
        SandboxEvent(EventType.DEFERRED, EMAIL_ID, RESEND_ID, "d@x.test", at),
        SandboxEvent(EventType.DROPPED, EMAIL_ID, RESEND_ID, "d@x.test", at, detail="why"),
        SandboxEvent(EventType.OPENED, EMAIL_ID, RESEND_ID, "d@x.test", at),
        SandboxEvent(EventType.CLICKED, EMAIL_ID, RESEND_ID, "d@x.test", at,
                     detail="https://e.test/"),
    ]


@pytest.mark.parametrize("given", sandbox_events(), ids=lambda e: f"{e.type}-{e.bounce}")
def test_the_sandbox_signers_request_is_read_back_by_the_sandbox_scheme(
    given: SandboxEvent, spec: dict[str, Any]
) -> None:
    sent = SIGNERS["resend"]([given], "http://127.0.0.1:8000/webhooks/resend", now())
    headers = {name.lower(): value for name, value in sent.headers.items()}

    [event] = resend.sandbox().receive(WebhookRequest(sent.url, headers, sent.body), now())

    assert (event.type, event.bounce, event.email_id, event.message_id, event.recipient,
            event.at) == (given.type, given.bounce, given.email_id, given.message_id,
                          given.recipient, given.at)
    if given.detail:
        assert event.detail is not None and given.detail in event.detail
    with pytest.raises(Unverified):
        resend.ResendWebhook(SECRET).receive(WebhookRequest(sent.url, headers, sent.body), now())
    schema = spec["webhooks"][json.loads(sent.body)["type"]]["post"]["requestBody"]["content"][
        "application/json"]["schema"]["$ref"].removeprefix("#")
    body_validator(spec, schema).validate(event_body([given]))


def test_the_sandbox_refuses_what_one_resend_request_cannot_carry() -> None:
    delivered, bounced = sandbox_events()[:2]
    with pytest.raises(ValueError, match="one event"):
        SIGNERS["resend"]([delivered, bounced], "http://mm/webhooks/resend", now())
    unsubscribed = SandboxEvent(EventType.UNSUBSCRIBED, EMAIL_ID, RESEND_ID, "a@x.test", now())
    with pytest.raises(ValueError, match="no webhook event"):
        SIGNERS["resend"]([unsubscribed], "http://mm/webhooks/resend", now())


def test_the_webhook_is_on_with_its_secret_which_must_be_one() -> None:
    def settings(**values: Any) -> Settings:
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    assert resend.real(settings()) is None
    assert resend.real(settings(resend_webhook_secret="")) is None
    scheme = resend.real(settings(resend_webhook_secret=SECRET))
    assert scheme is not None
    assert len(scheme.receive(request(DELIVERED), now())) == 1
    with pytest.raises(ValueError, match="RESEND_WEBHOOK_SECRET") as refused:
        settings(resend_webhook_secret="whsec_not base64!")
    assert "not base64!" not in str(refused.value)
    assert SECRET not in repr(settings(resend_webhook_secret=SECRET))
