"""Brevo's webhook: its Basic credentials or bearer token, single and batched events, every row
of its table, and the sandbox's round trip."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

import pytest

from micromailer.config import Settings
from micromailer.domain.events import BounceKind, EventType
from micromailer.sandbox.events import SIGNERS, SandboxEvent
from micromailer.webhooks import brevo
from micromailer.webhooks.base import Malformed, Unverified, WebhookRequest
from micromailer.webhooks.credentials import HeaderCredentials, basic_header

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
USER = "brevo-hook"
PASSWORD = secrets.token_urlsafe(24)
TOKEN = secrets.token_urlsafe(24)
EMAIL_ID = "2c5a8d0e-1f3b-4a6c-9e7d-0b1a2c3d4e5f"
MESSAGE_ID = "<202010090000.12345678901@smtp-relay.mailin.fr>"


def scheme() -> brevo.BrevoWebhook:
    return brevo.BrevoWebhook(HeaderCredentials(username=USER, password=PASSWORD, token=TOKEN))


def request(body: Any, **headers: str) -> WebhookRequest:
    if not headers:
        headers = {"authorization": f"Bearer {TOKEN}"}
    return WebhookRequest("https://mm.example/webhooks/brevo", headers, json.dumps(body).encode())


#: Brevo's documented "Sent" example (developers.brevo.com/docs/transactional-webhooks), with
#: the X-Mailin-custom header micromailer's adapter sends.
SENT = {
    "event": "request", "email": "example@domain.com", "id": 12345,
    "date": "2020-10-09 00:00:00", "ts": 1604933619, "message-id": MESSAGE_ID,
    "ts_event": 1604933654, "subject": "My first Transactional",
    "X-Mailin-custom": json.dumps({"email_id": EMAIL_ID, "user": "42"}),
    "sending_ip": "xxx.xxx.xxx.xxx", "ts_epoch": 1604933654000, "template_id": 22,
    "mirror_link": "https://app-smtp.brevo.com/log/preview/1a2000f4", "contact_id": 8,
    "tags": ["transac_messages"],
}
HARD_BOUNCE = {**SENT, "event": "hard_bounce",
               "reason": " RecipientError: 550 5.5.0 Requested action not taken: mailbox "
                         "unavailable."}
CLICK = {**SENT, "event": "click", "link": "https://example.com/offer"}


def test_documented_events_become_micromailer_events() -> None:
    sent, bounce, click = scheme().receive(request([SENT, HARD_BOUNCE, CLICK]), NOW)

    assert (sent.type, sent.email_id, sent.message_id, sent.recipient) == (
        EventType.UNKNOWN, EMAIL_ID, MESSAGE_ID, "example@domain.com")
    assert sent.at == datetime(2020, 11, 9, 14, 54, 14, tzinfo=UTC)
    assert sent.raw == SENT and sent.detail == "request"
    assert (bounce.type, bounce.bounce) == (EventType.BOUNCED, BounceKind.HARD)
    assert bounce.detail == ("hard_bounce: RecipientError: 550 5.5.0 Requested action not "
                             "taken: mailbox unavailable.")
    assert bounce.suppresses
    assert (click.type, click.detail) == (EventType.CLICKED, "click: https://example.com/offer")


def test_one_event_comes_alone_and_its_times_fall_back_to_seconds() -> None:
    record = {"event": "delivered", "email": "a@x.test", "message-id": MESSAGE_ID,
              "ts_event": 1604933654}
    [event] = scheme().receive(request(record), NOW)
    assert event.at == datetime(2020, 11, 9, 14, 54, 14, tzinfo=UTC)
    [undated] = scheme().receive(request({"event": "delivered"}), NOW)
    assert undated.at == NOW and undated.email_id is None and undated.message_id is None


def test_the_message_id_is_the_adapters_with_angle_brackets() -> None:
    bare = {**SENT, "message-id": "201798300811.5787683@relay.domain.com"}
    [event] = scheme().receive(request(bare), NOW)
    assert event.message_id == "<201798300811.5787683@relay.domain.com>"


def test_unreadable_metadata_leaves_the_email_id_unknown() -> None:
    for custom in ("some_custom_header", "[1]", json.dumps({"email_id": 7}), "x" * 20_000):
        [event] = scheme().receive(request({**SENT, "X-Mailin-custom": custom}), NOW)
        assert event.email_id is None


@pytest.mark.parametrize("authorization", [
    f"Bearer {TOKEN}", f"bearer {TOKEN}", basic_header(USER, PASSWORD),
])
def test_either_credential_verifies(authorization: str) -> None:
    assert len(scheme().receive(request(SENT, authorization=authorization), NOW)) == 1


@pytest.mark.parametrize("headers", [
    {},
    {"authorization": f"Bearer {TOKEN}x"},
    {"authorization": TOKEN},
    {"authorization": basic_header(USER, PASSWORD + "x")},
    {"authorization": basic_header(USER.upper(), PASSWORD)},
    {"x-brevo-token": TOKEN},
])
def test_a_request_without_the_configured_credentials_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(Unverified):
        scheme().receive(WebhookRequest("https://mm/webhooks/brevo", headers, b"{}"), NOW)


def test_a_replayed_event_gives_the_same_event_id_and_another_event_another() -> None:
    [first] = scheme().receive(request(HARD_BOUNCE), NOW)
    [again] = scheme().receive(request(HARD_BOUNCE), NOW)
    [other] = scheme().receive(request({**HARD_BOUNCE, "ts_event": 1604933655}), NOW)
    assert first.event_id == again.event_id != other.event_id


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "not JSON"),
    (b"[1]", "event 0"),
    (b'{"email": "a@x.test"}', "event 0"),
    (json.dumps([SENT] * 1001).encode(), "1001 events"),
])
def test_a_body_that_is_no_brevo_event_is_malformed(body: bytes, message: str) -> None:
    headers = {"authorization": f"Bearer {TOKEN}"}
    with pytest.raises(Malformed, match=message):
        scheme().receive(WebhookRequest("https://mm/webhooks/brevo", headers, body), NOW)


@pytest.mark.parametrize(("name", "expected"), sorted(brevo.EVENTS.items()))
def test_every_row_of_the_event_table(name: str, expected: tuple[EventType, Any]) -> None:
    [event] = scheme().receive(request({**SENT, "event": name}), NOW)
    assert (event.type, event.bounce) == expected


def test_every_transactional_event_brevo_documents_has_a_row() -> None:
    """The payload names of the transactional events its webhook page lists (Sent, Clicked,
    Deferred, Delivered, Soft Bounced, Spam, First Opening, Hard Bounced, Opened, Invalid
    Email, Blocked, Error, Unsubscribed, Proxy Open, Unique Proxy Open)."""
    documented = {"request", "click", "deferred", "delivered", "soft_bounce", "spam",
                  "unique_opened", "hard_bounce", "opened", "invalid_email", "blocked",
                  "error", "unsubscribed", "proxy_open", "unique_proxy_open"}
    assert documented <= set(brevo.EVENTS)
    [event] = scheme().receive(request({**SENT, "event": "list_addition"}), NOW)
    assert event.type is EventType.UNKNOWN


def test_the_webhook_is_on_with_credentials_or_a_token() -> None:
    def settings(**values: Any) -> Settings:
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    assert brevo.real(settings()) is None
    empty = settings(brevo_webhook_username="", brevo_webhook_password="", brevo_webhook_token="")
    assert brevo.real(empty) is None
    with_token = brevo.real(settings(brevo_webhook_token=TOKEN))
    assert with_token is not None
    assert len(with_token.receive(request(SENT), NOW)) == 1
    with_basic = brevo.real(settings(brevo_webhook_username=USER, brevo_webhook_password=PASSWORD))
    assert with_basic is not None
    assert len(with_basic.receive(request(SENT, authorization=basic_header(USER, PASSWORD)),
                                  NOW)) == 1
    with pytest.raises(Unverified):
        with_basic.receive(request(SENT), NOW)
    with pytest.raises(ValueError, match="BREVO_WEBHOOK_USERNAME") as refused:
        settings(brevo_webhook_password=PASSWORD)
    assert PASSWORD not in str(refused.value)


def test_the_sandbox_signers_request_is_read_back_by_the_sandbox_scheme() -> None:
    at = datetime(2026, 3, 1, 11, 59, 30, 123000, tzinfo=UTC)
    given = [
        SandboxEvent(EventType.DELIVERED, EMAIL_ID, MESSAGE_ID, "bob@example.com", at),
        SandboxEvent(EventType.BOUNCED, EMAIL_ID, MESSAGE_ID,
                     "bounce@simulator.micromailer.test", at, bounce=BounceKind.HARD),
        SandboxEvent(EventType.BOUNCED, EMAIL_ID, MESSAGE_ID, "soft@x.test", at,
                     bounce=BounceKind.SOFT),
        SandboxEvent(EventType.COMPLAINED, EMAIL_ID, MESSAGE_ID,
                     "complain@simulator.micromailer.test", at),
        SandboxEvent(EventType.DEFERRED, EMAIL_ID, MESSAGE_ID, "d@x.test", at),
        SandboxEvent(EventType.DROPPED, EMAIL_ID, MESSAGE_ID, "d@x.test", at),
        SandboxEvent(EventType.OPENED, EMAIL_ID, MESSAGE_ID, "d@x.test", at),
        SandboxEvent(EventType.CLICKED, EMAIL_ID, MESSAGE_ID, "d@x.test", at,
                     detail="https://e.test/"),
        SandboxEvent(EventType.UNSUBSCRIBED, EMAIL_ID, MESSAGE_ID, "d@x.test", at),
    ]
    for batch in ([given[1]], given):
        sent = SIGNERS["brevo"](batch, "http://127.0.0.1:8000/webhooks/brevo", NOW)
        headers = {name.lower(): value for name, value in sent.headers.items()}
        events = brevo.sandbox().receive(WebhookRequest(sent.url, headers, sent.body), NOW)

        assert [(e.type, e.bounce, e.email_id, e.message_id, e.recipient, e.at)
                for e in events] == [
            (g.type, g.bounce, g.email_id, g.message_id, g.recipient, g.at) for g in batch]
        with pytest.raises(Unverified):
            scheme().receive(WebhookRequest(sent.url, headers, sent.body), NOW)
    assert isinstance(json.loads(SIGNERS["brevo"]([given[0]], "http://mm", NOW).body), dict)
