"""Postmark's webhook: the basic-auth credentials of its webhook URL and/or a secret custom
header, compared in constant time; every Postmark event in micromailer's vocabulary."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from pydantic import ValidationError

from micromailer.config import Settings
from micromailer.domain.events import BounceKind, EventType, ProviderEvent
from micromailer.sandbox.events import SIGNERS
from micromailer.webhooks import postmark
from micromailer.webhooks.base import Malformed, Unverified
from micromailer.webhooks.credentials import HeaderCredentials
from micromailer.webhooks.postmark import EVENTS, PostmarkWebhook, parse_event
from micromailer.webhooks.registry import WEBHOOKS
from tests.support.webhook_requests import NOW, WEBHOOK_URL, from_signed, received, sandbox_events

TOKEN_HEADER = "X-Micromailer-Webhook-Token"

#: The examples of Postmark's webhook pages (postmarkapp.com/email-webhooks and the
#: developer pages of each webhook), ``email_id`` added to the Metadata as micromailer sends it.
DOCUMENTED_EVENTS: dict[str, dict[str, Any]] = {
    "Bounce": {
        "RecordType": "Bounce", "MessageStream": "outbound", "ID": 42, "Type": "HardBounce",
        "TypeCode": 1, "Name": "Hard bounce", "Tag": "Test",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Description": "The server was unable to deliver your message (ex: unknown user, "
                       "mailbox not found).",
        "Details": "Test bounce details", "Email": "john@example.com",
        "From": "sender@example.com", "BouncedAt": "2014-08-01T13:28:10.2735393-04:00",
        "DumpAvailable": True, "Inactive": True, "CanActivate": True, "Subject": "Test subject",
        "ServerID": 23, "Content": "Test content",
        "Metadata": {"user_id": "43", "email_id": "3c1d8e57-1b0a-4a51-9a8e-1f5f0f3c2a10"},
    },
    "Delivery": {
        "RecordType": "Delivery", "ServerID": 23, "MessageStream": "outbound",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Recipient": "john@example.com", "Tag": "welcome-email",
        "DeliveredAt": "2014-08-01T13:28:10.2735393-04:00",
        "Details": "Test delivery webhook details",
        "Metadata": {"a_key": "a_value", "b_key": "b_value"},
    },
    "SpamComplaint": {
        "RecordType": "SpamComplaint", "MessageStream": "outbound", "ID": 42,
        "Type": "SpamComplaint", "TypeCode": 512, "Name": "Spam complaint", "Tag": "Test",
        "MessageID": "00000000-0000-0000-0000-000000000000", "ServerID": 1234,
        "Description": "", "Details": "Test spam complaint details",
        "Email": "john@example.com", "From": "sender@example.com",
        "BouncedAt": "2019-11-05T16:33:54.9070259Z", "DumpAvailable": True, "Inactive": True,
        "CanActivate": False, "Subject": "Test subject", "Content": "<Abuse report dump>",
        "Metadata": {"example": "value", "example_2": "value"},
    },
    "Open": {
        "RecordType": "Open", "MessageStream": "outbound", "FirstOpen": True,
        "Client": {"Name": "Chrome 35.0.1916.153", "Company": "Google", "Family": "Chrome"},
        "OS": {"Name": "OS X 10.7 Lion", "Company": "Apple Computer, Inc.",
               "Family": "OS X 10"},
        "Platform": "WebMail", "UserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5)",
        "ReadSeconds": 5, "Geo": {"CountryISOCode": "RS", "Country": "Serbia"},
        "MessageID": "00000000-0000-0000-0000-000000000000",
        "Metadata": {"a_key": "a_value", "b_key": "b_value"},
        "ReceivedAt": "2019-11-05T16:33:54.9070259Z", "Tag": "welcome-email",
        "Recipient": "john@example.com",
    },
    "Click": {
        "RecordType": "Click", "MessageStream": "outbound", "ClickLocation": "HTML",
        "Client": {"Name": "Chrome 35.0.1916.153", "Company": "Google", "Family": "Chrome"},
        "OS": {"Name": "OS X 10.7 Lion", "Company": "Apple Computer, Inc.",
               "Family": "OS X 10"},
        "Platform": "Desktop", "UserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5)",
        "OriginalLink": "https://example.com", "Geo": {"CountryISOCode": "RS"},
        "MessageID": "00000000-0000-0000-0000-000000000000",
        "Metadata": {"a_key": "a_value", "b_key": "b_value"},
        "ReceivedAt": "2017-10-25T15:21:11.9065619Z", "Tag": "welcome-email",
        "Recipient": "john@example.com",
    },
    "SubscriptionChange": {
        "RecordType": "SubscriptionChange", "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "ServerID": 123456, "MessageStream": "outbound", "ChangedAt": "2020-02-01T10:53:34.416071Z",
        "Recipient": "bounced-address@wildbit.com", "Origin": "Recipient",
        "SuppressSending": True, "SuppressionReason": "ManualSuppression",
        "Tag": "my-tag", "Metadata": {"example": "value", "example_2": "value"},
    },
}


def read(record: dict[str, Any]) -> ProviderEvent:
    """``record`` as the webhook reads it, received at :data:`NOW`."""
    return parse_event(record, NOW)


@pytest.fixture
def password() -> str:
    return secrets.token_urlsafe(16)


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def body(record: dict[str, Any]) -> bytes:
    return json.dumps(record).encode()


# -- authenticity ------------------------------------------------------------------------


def scheme(password: str | None = None, token: str | None = None) -> PostmarkWebhook:
    """Postmark's scheme with Basic credentials ``postmark:<password>`` and/or a token."""
    return PostmarkWebhook(HeaderCredentials(
        username="postmark" if password is not None else None, password=password, token=token,
        token_header=TOKEN_HEADER.lower(), token_prefix="",
    ))


def test_an_event_with_the_webhook_urls_credentials_is_accepted(password: str) -> None:
    [event] = scheme(password).receive(
        received(body(DOCUMENTED_EVENTS["Delivery"]), basic("postmark", password)), NOW
    )

    assert event.type is EventType.DELIVERED


@pytest.mark.parametrize(("headers", "complaint"), [
    (lambda password: {}, "carries no Basic credentials"),
    (lambda password: basic("postmark", "wrong"), "wrong Basic"),
    (lambda password: basic("someone", password), "wrong Basic"),
    (lambda password: basic("postmark", password + "x"), "wrong Basic"),
    (lambda password: {"Authorization": f"Bearer {password}"}, "carries no Basic"),
    (lambda password: {"Authorization": "Basic not-base64!"}, "carries no Basic"),
    (lambda password: {"Authorization": "Basic"}, "carries no Basic"),
], ids=["none", "wrong password", "wrong user", "longer", "bearer", "not base64", "empty"])
def test_an_event_without_the_right_credentials_is_refused(
    password: str, headers: Callable[[str], dict[str, str]], complaint: str,
) -> None:
    with pytest.raises(Unverified, match=complaint):
        scheme(password).receive(
            received(body(DOCUMENTED_EVENTS["Delivery"]), headers(password)), NOW
        )


def test_a_token_in_the_custom_header_proves_it_too(password: str) -> None:
    token = secrets.token_urlsafe(24)
    event = body(DOCUMENTED_EVENTS["Delivery"])

    assert scheme(token=token).receive(received(event, {TOKEN_HEADER: token}), NOW)
    assert scheme(password, token).receive(received(event, {TOKEN_HEADER: token}), NOW)
    assert scheme(password, token).receive(received(event, basic("postmark", password)), NOW)
    with pytest.raises(Unverified, match="wrong token"):
        scheme(token=token).receive(received(event, {TOKEN_HEADER: token + "x"}), NOW)
    with pytest.raises(Unverified, match="carries no"):
        scheme(token=token).receive(received(event, basic("postmark", password)), NOW)
    with pytest.raises(Unverified, match="wrong Basic"):
        scheme(password, token).receive(
            received(event, basic("postmark", "wrong") | {TOKEN_HEADER: token}), NOW
        )


def test_a_replayed_event_passes_the_check_with_the_same_event_id(password: str) -> None:
    """Postmark signs no time: de-duplication on the event id keeps a replay once."""
    for record in DOCUMENTED_EVENTS.values():
        request = received(body(record), basic("postmark", password))

        [first], [again] = scheme(password).receive(request, NOW), scheme(password).receive(
            request, NOW)

        assert first.event_id == again.event_id


# -- the events --------------------------------------------------------------------------


def test_the_documented_examples_read_as_their_types() -> None:
    events = {name: read(record) for name, record in DOCUMENTED_EVENTS.items()}

    assert {name: (event.type, event.bounce) for name, event in events.items()} == {
        "Bounce": (EventType.BOUNCED, BounceKind.HARD),
        "Delivery": (EventType.DELIVERED, None),
        "SpamComplaint": (EventType.COMPLAINED, None),
        "Open": (EventType.OPENED, None),
        "Click": (EventType.CLICKED, None),
        "SubscriptionChange": (EventType.UNSUBSCRIBED, None),
    }
    bounce = events["Bounce"]
    assert bounce.email_id == "3c1d8e57-1b0a-4a51-9a8e-1f5f0f3c2a10"
    assert bounce.message_id == "883953f4-6105-42a2-a16a-77a8eac79483"
    assert bounce.recipient == "john@example.com"
    assert bounce.at == datetime(2014, 8, 1, 17, 28, 10, 273539, tzinfo=UTC)
    assert bounce.event_id == "Bounce:42"
    assert bounce.detail == "Bounce (HardBounce): Test bounce details"
    assert bounce.raw == DOCUMENTED_EVENTS["Bounce"]
    assert events["SpamComplaint"].event_id == "SpamComplaint:42"
    assert events["Click"].detail == "Click: https://example.com"
    assert events["Delivery"].recipient == "john@example.com"
    assert events["SubscriptionChange"].at == datetime(2020, 2, 1, 10, 53, 34, 416071, tzinfo=UTC)


@pytest.mark.parametrize(("key", "expected"), list(EVENTS.items()), ids=str)
def test_each_row_of_the_table(
    key: tuple[str, str | None], expected: tuple[EventType, BounceKind | None],
) -> None:
    kind, qualifier = key
    record: dict[str, Any] = {"RecordType": kind, "ReceivedAt": "2019-11-05T16:33:54Z",
                              "BouncedAt": "2019-11-05T16:33:54Z",
                              "DeliveredAt": "2019-11-05T16:33:54Z",
                              "ChangedAt": "2019-11-05T16:33:54Z"}
    if kind == "Bounce":
        record["Type"] = qualifier
    elif kind == "SubscriptionChange":
        record["SuppressSending"] = qualifier != "Reactivated"
        record["SuppressionReason"] = None if qualifier == "Reactivated" else qualifier

    event = read(record)

    assert (event.type, event.bounce) == expected


def test_a_record_postmark_adds_later_is_unknown() -> None:
    assert read({"RecordType": "Inbound", "ReceivedAt": "2019-11-05T16:33:54Z"}).type \
        is EventType.UNKNOWN
    assert read({"RecordType": "Bounce", "Type": "NewKind",
                        "BouncedAt": "2019-11-05T16:33:54Z"}).type is EventType.UNKNOWN


@pytest.mark.parametrize(("payload", "complaint"), [
    (b"[]", "one JSON object"),
    (b"not json", "not JSON"),
])
def test_an_accepted_body_that_is_not_postmarks_format_is_malformed(
    password: str, payload: bytes, complaint: str,
) -> None:
    with pytest.raises(Malformed, match=complaint):
        scheme(password).receive(received(payload, basic("postmark", password)), NOW)


# -- settings and the sandbox ------------------------------------------------------------


def test_the_real_scheme_needs_credentials_or_a_token(password: str) -> None:
    assert postmark.real(Settings()) is None
    by_basic = postmark.real(Settings(
        postmark_webhook_username="postmark", postmark_webhook_password=password,
    ))
    by_token = postmark.real(Settings(postmark_webhook_token=password))
    assert by_basic is not None and by_token is not None
    event = body(DOCUMENTED_EVENTS["Delivery"])
    assert by_basic.receive(received(event, basic("postmark", password)), NOW)
    assert by_token.receive(received(event, {TOKEN_HEADER: password}), NOW)
    assert password not in repr(by_basic) + repr(by_token)


def test_settings_refuse_a_username_without_its_password() -> None:
    with pytest.raises(ValidationError, match="go together"):
        Settings(postmark_webhook_username="postmark")


def test_the_sandbox_signers_requests_are_accepted_and_yield_the_events_given() -> None:
    """One request per event, its credentials in the URL as Postmark's settings put them."""
    given = sandbox_events("d0b7a1f4-5c3e-4d2a-9b8c-7e6f5a4b3c2d")
    scheme = WEBHOOKS["postmark"].sandbox()
    url = WEBHOOK_URL.format(provider="postmark")
    requests = [SIGNERS["postmark"]([one], url, NOW) for one in given]

    events = [event for signed in requests for event in scheme.receive(from_signed(signed), NOW)]

    assert [(e.type, e.bounce, e.email_id, e.message_id, e.recipient, e.at) for e in events] == [
        (g.type, g.bounce, g.email_id, g.message_id, g.recipient, g.at) for g in given
    ]
    assert events[1].detail == "Bounce (HardBounce): 550 5.1.1 no such mailbox"
    parts = urlsplit(requests[0].url)
    assert (parts.username, parts.password) == (postmark.SANDBOX_USERNAME,
                                                postmark.SANDBOX_PASSWORD)
    assert requests[0].headers["Authorization"] == basic(
        postmark.SANDBOX_USERNAME, postmark.SANDBOX_PASSWORD)["Authorization"]
    assert parts._replace(netloc=parts.hostname or "").geturl() == url
    with pytest.raises(ValueError, match="one event per request"):
        SIGNERS["postmark"](given, url, NOW)


def test_the_sandbox_credentials_open_nothing_set_for_real(password: str) -> None:
    from_sandbox = SIGNERS["postmark"](sandbox_events("m")[:1], "https://x/", NOW)

    with pytest.raises(Unverified):
        scheme(password).receive(from_signed(from_sandbox), NOW)
