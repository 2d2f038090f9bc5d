"""SparkPost's webhook: its Basic credentials or token, its batches, every row of its tables,
and the sandbox's round trip."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

import pytest

from micromailer.config import Settings
from micromailer.domain.events import BounceKind, EventType
from micromailer.sandbox.events import SIGNERS, SandboxEvent
from micromailer.webhooks import sparkpost
from micromailer.webhooks.base import Malformed, Unverified, WebhookRequest
from micromailer.webhooks.credentials import HeaderCredentials, basic_header

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
USER = "sparkpost-hook"
PASSWORD = secrets.token_urlsafe(24)
TOKEN = secrets.token_urlsafe(24)
EMAIL_ID = "6f0e3a52-8d0b-4f3e-b0c1-7d2e9a1b4c5d"


def scheme(**kwargs: Any) -> sparkpost.SparkPostWebhook:
    values = {"username": USER, "password": PASSWORD} | kwargs
    return sparkpost.SparkPostWebhook(HeaderCredentials(
        token_header=sparkpost.TOKEN_HEADER, token_prefix="", **values))


def request(batch: Any, **headers: str) -> WebhookRequest:
    if not headers:
        headers = {"authorization": basic_header(USER, PASSWORD)}
    return WebhookRequest("https://mm.example/webhooks/sparkpost", headers,
                          json.dumps(batch).encode())


#: SparkPost's sample message events (its Events Samples and Message Events pages), with the
#: email id micromailer's adapter sends as transmission metadata.
BOUNCE = {
    "type": "bounce", "bounce_class": "10", "campaign_id": "Example Campaign Name",
    "customer_id": "1", "error_code": "554", "event_id": "92356927693813856",
    "friendly_from": "sender@example.com", "ip_pool": "Example-Ip-Pool",
    "message_id": "000443ee14578172be22", "msg_from": "sender@example.com", "msg_size": "1337",
    "num_retries": "2", "raw_rcpt_to": "Recipient@example.com",
    "raw_reason": "000 Example Remote MTA Bounce Message",
    "rcpt_meta": {"customKey": "customValue", "email_id": EMAIL_ID},
    "rcpt_tags": ["male", "US"], "rcpt_to": "recipient@example.com", "rcpt_type": "cc",
    "reason": "000 Example Remote MTA Bounce Message", "routing_domain": "example.com",
    "sending_ip": "127.0.0.1", "subject": "Summer deals are here!", "template_id": "templ-1234",
    "template_version": "1", "timestamp": "1454442600", "transmission_id": "65832150921904138",
}
CLICK = {
    "type": "click", "campaign_id": "Example Campaign Name", "customer_id": "1",
    "delv_method": "esmtp", "event_id": "92356927693813857",
    "injection_time": "2016-04-18T14:25:07.000Z", "ip_address": "127.0.0.1",
    "message_id": "000443ee14578172be22", "rcpt_meta": {"email_id": EMAIL_ID},
    "rcpt_to": "recipient@example.com", "raw_rcpt_to": "recipient@example.com",
    "target_link_name": "Example Link Name", "target_link_url": "http://example.com",
    "timestamp": "2016-04-18T14:25:07.000+00:00", "transmission_id": "65832150921904138",
    "user_agent": "Mozilla/5.0",
}
DELIVERY = {
    "type": "delivery", "event_id": "92356927693813858", "rcpt_to": "recipient@example.com",
    "raw_rcpt_to": "recipient@example.com", "metadata": {"email_id": EMAIL_ID},
    "timestamp": "1454442600", "transmission_id": 65832150921904138,
}


def test_a_batch_of_documented_events_becomes_micromailer_events() -> None:
    batch = [{"msys": {"message_event": BOUNCE}, "cust": {"id": "1"}},
             {"msys": {"track_event": CLICK}}, {"msys": {"message_event": DELIVERY}}]

    bounce, click, delivery = scheme().receive(request(batch), NOW)

    assert (bounce.type, bounce.bounce, bounce.recipient) == (
        EventType.BOUNCED, BounceKind.HARD, "Recipient@example.com")
    assert (bounce.event_id, bounce.email_id, bounce.message_id) == (
        "92356927693813856", EMAIL_ID, "65832150921904138")
    assert bounce.at == datetime(2016, 2, 2, 19, 50, tzinfo=UTC)
    assert bounce.detail == "bounce (bounce class 10): 000 Example Remote MTA Bounce Message"
    assert bounce.raw == batch[0]
    assert (click.type, click.detail) == (EventType.CLICKED, "click: http://example.com")
    assert click.at == datetime(2016, 4, 18, 14, 25, 7, tzinfo=UTC)
    assert (delivery.type, delivery.email_id, delivery.message_id) == (
        EventType.DELIVERED, EMAIL_ID, "65832150921904138")


def test_the_test_post_of_an_empty_msys_gives_no_event() -> None:
    assert scheme().receive(request([{"msys": {}}]), NOW) == []


@pytest.mark.parametrize("headers", [
    {},
    {"authorization": basic_header(USER, "wrong")},
    {"authorization": basic_header("someone", PASSWORD)},
    {"authorization": "Basic !!!"},
    {"authorization": f"Bearer {PASSWORD}"},
    {sparkpost.TOKEN_HEADER: TOKEN},
])
def test_a_request_without_the_configured_credentials_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(Unverified):
        scheme().receive(WebhookRequest("https://mm/webhooks/sparkpost", headers, b"[]"), NOW)


def test_the_deprecated_token_header_verifies_when_a_token_is_set() -> None:
    token_only = scheme(username=None, password=None, token=TOKEN)
    ok = request([{"msys": {"message_event": DELIVERY}}], **{sparkpost.TOKEN_HEADER: TOKEN})
    assert len(token_only.receive(ok, NOW)) == 1
    with pytest.raises(Unverified, match="wrong token"):
        token_only.receive(request([], **{sparkpost.TOKEN_HEADER: TOKEN + "x"}), NOW)


def test_a_replayed_batch_gives_the_same_event_ids() -> None:
    batch = [{"msys": {"message_event": BOUNCE}}, {"msys": {"message_event": {
        k: v for k, v in DELIVERY.items() if k != "event_id"}}}]

    first = scheme().receive(request(batch), NOW)
    again = scheme().receive(request(batch), NOW)
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert first[1].event_id.startswith("sha256:")


@pytest.mark.parametrize(("body", "message"), [
    (b"{}", "not a SparkPost batch"),
    (b"not json", "not JSON"),
    (b'[{"msys": []}]', "event 0"),
    (b"[1]", "event 0"),
    (json.dumps([{"msys": {}}] * 1001).encode(), "1001 events"),
])
def test_a_body_that_is_no_batch_is_malformed(body: bytes, message: str) -> None:
    headers = {"authorization": basic_header(USER, PASSWORD)}
    with pytest.raises(Malformed, match=message):
        scheme().receive(WebhookRequest("https://mm/webhooks/sparkpost", headers, body), NOW)


@pytest.mark.parametrize(("name", "kind"), sorted(sparkpost.EVENTS.items()))
def test_every_row_of_the_event_table(name: str, kind: EventType) -> None:
    record = {**DELIVERY, "type": name, "bounce_class": "10"}
    [event] = scheme().receive(request([{"msys": {"message_event": record}}]), NOW)
    assert event.type is kind
    assert event.bounce is (BounceKind.HARD if kind is EventType.BOUNCED else None)


@pytest.mark.parametrize(("code", "kind"), sorted(sparkpost.BOUNCE_CLASSES.items()))
def test_every_bounce_class(code: str, kind: BounceKind) -> None:
    for name in ("bounce", "out_of_band"):
        record = {**BOUNCE, "type": name, "bounce_class": code}
        [event] = scheme().receive(request([{"msys": {"message_event": record}}]), NOW)
        assert (event.type, event.bounce) == (EventType.BOUNCED, kind)


def test_an_unlisted_type_is_unknown_and_an_unlisted_bounce_class_soft() -> None:
    relay = {"type": "relay_delivery", "event_id": "1", "timestamp": "1454442600"}
    odd = {**BOUNCE, "bounce_class": "999"}
    unknown, bounce = scheme().receive(request([{"msys": {"relay_event": relay}},
                                                {"msys": {"message_event": odd}}]), NOW)
    assert unknown.type is EventType.UNKNOWN and unknown.at == datetime(2016, 2, 2, 19, 50,
                                                                        tzinfo=UTC)
    assert bounce.bounce is BounceKind.SOFT


def test_the_webhook_is_on_with_credentials_or_a_token() -> None:
    def settings(**values: Any) -> Settings:
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    assert sparkpost.real(settings()) is None
    empty = settings(sparkpost_webhook_username="", sparkpost_webhook_password=" ",
                     sparkpost_webhook_token="")
    assert sparkpost.real(empty) is None
    assert sparkpost.real(settings(sparkpost_webhook_username=USER)) is not None
    assert sparkpost.real(settings(sparkpost_webhook_token=TOKEN)) is not None
    with_password = sparkpost.real(settings(sparkpost_webhook_username=USER,
                                            sparkpost_webhook_password=PASSWORD))
    assert with_password is not None
    assert PASSWORD not in repr(with_password._credentials)
    with pytest.raises(ValueError, match="SPARKPOST_WEBHOOK_USERNAME") as refused:
        settings(sparkpost_webhook_password=PASSWORD)
    assert PASSWORD not in str(refused.value)


def test_the_sandbox_signers_batch_is_read_back_by_the_sandbox_scheme() -> None:
    at = datetime(2026, 3, 1, 11, 59, 30, tzinfo=UTC)
    given = [
        SandboxEvent(EventType.DELIVERED, EMAIL_ID, "7213345512", "bob@example.com", at),
        SandboxEvent(EventType.BOUNCED, EMAIL_ID, "7213345512",
                     "bounce@simulator.micromailer.test", at, bounce=BounceKind.HARD),
        SandboxEvent(EventType.BOUNCED, EMAIL_ID, "7213345512", "soft@x.test", at,
                     bounce=BounceKind.SOFT),
        SandboxEvent(EventType.COMPLAINED, EMAIL_ID, "7213345512",
                     "complain@simulator.micromailer.test", at),
        SandboxEvent(EventType.DEFERRED, EMAIL_ID, "7213345512", "d@x.test", at),
        SandboxEvent(EventType.DROPPED, EMAIL_ID, "7213345512", "d@x.test", at),
        SandboxEvent(EventType.OPENED, EMAIL_ID, "7213345512", "d@x.test", at),
        SandboxEvent(EventType.CLICKED, EMAIL_ID, "7213345512", "d@x.test", at,
                     detail="https://e.test/"),
        SandboxEvent(EventType.UNSUBSCRIBED, EMAIL_ID, "7213345512", "d@x.test", at),
    ]
    sent = SIGNERS["sparkpost"](given, "http://127.0.0.1:8000/webhooks/sparkpost", NOW)
    headers = {name.lower(): value for name, value in sent.headers.items()}

    events = sparkpost.sandbox().receive(WebhookRequest(sent.url, headers, sent.body), NOW)

    assert [(e.type, e.bounce, e.email_id, e.message_id, e.recipient, e.at) for e in events] == [
        (g.type, g.bounce, g.email_id, g.message_id, g.recipient, g.at) for g in given]
    assert len({e.event_id for e in events}) == len(given)
    assert events[7].detail == "click: https://e.test/"
    with pytest.raises(Unverified):
        scheme().receive(WebhookRequest(sent.url, headers, sent.body), NOW)
