"""Mandrill's webhook: base64 HMAC-SHA1 over the URL and the sorted form fields with the
webhook's key, ``mandrill_events`` read as a JSON array, every Mandrill event in micromailer's
vocabulary."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import ValidationError

from micromailer.config import Settings
from micromailer.domain.events import BounceKind, EventType, ProviderEvent
from micromailer.sandbox.events import SIGNERS
from micromailer.webhooks import mandrill
from micromailer.webhooks.base import Malformed, Unverified
from micromailer.webhooks.mandrill import EVENTS, MandrillWebhook, parse_event
from micromailer.webhooks.registry import WEBHOOKS
from tests.support.webhook_requests import NOW, WEBHOOK_URL, from_signed, received, sandbox_events

URL = "https://mail.example.com/webhooks/mandrill"
SIGNATURE = "X-Mandrill-Signature"


def _message(state: str, **extra: Any) -> dict[str, Any]:
    return {
        "ts": 1365109999, "subject": "This an example webhook message",
        "email": "example.webhook@mandrillapp.com", "sender": "example.sender@mandrillapp.com",
        "tags": ["webhook-example"], "opens": [], "clicks": [], "state": state,
        "metadata": {"user_id": 111, "email_id": "0b0ef8a4-43a8-4bd9-b2c4-2a1c1de0f0b1"},
        "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa", "_version": "exampleaaaaaaaaaaaaaaa", **extra,
    }


#: Mandrill's test batch ("This an example webhook message", which Mandrill sends from its
#: webhook settings), one record of each message event, ``email_id`` added to the metadata as
#: micromailer sends it; and a sync event.
DOCUMENTED_EVENTS: list[dict[str, Any]] = [
    {"event": "send", "msg": _message("sent"), "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa",
     "ts": 1384954004},
    {"event": "delivered", "msg": _message("sent"), "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa",
     "ts": 1384954004},
    {"event": "deferral", "msg": _message("deferred", smtp_events=[{
        "destination_ip": "127.0.0.1", "diag": "451 4.3.5 Temporarily unavailable, try again "
        "later.", "source_ip": "127.0.0.1", "ts": 1365111111, "type": "deferred",
        "size": 0}]), "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa", "ts": 1384954004},
    {"event": "hard_bounce", "msg": _message(
        "bounced", bounce_description="bad_mailbox", bgtools_code=10,
        diag="smtp;550 5.1.1 The email account that you tried to reach does not exist."),
     "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa", "ts": 1384954004},
    {"event": "soft_bounce", "msg": _message(
        "soft-bounced", bounce_description="mailbox_full", bgtools_code=22,
        diag="smtp;552 5.2.2 Over Quota"),
     "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa", "ts": 1384954004},
    {"event": "open", "msg": _message("sent"), "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa",
     "ip": "127.0.0.1", "location": {"country": "United States"},
     "user_agent": "Mozilla/5.0", "ts": 1384954004},
    {"event": "click", "msg": _message("sent"), "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa",
     "ip": "127.0.0.1", "user_agent": "Mozilla/5.0", "url": "http://mandrill.com",
     "ts": 1384954004},
    {"event": "spam", "msg": _message("sent"), "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa",
     "ts": 1384954004},
    {"event": "unsub", "msg": _message("sent"), "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa",
     "ts": 1384954004},
    {"event": "reject", "msg": _message("rejected"), "_id": "exampleaaaaaaaaaaaaaaaaaaaaaaaaa",
     "ts": 1384954004},
    {"type": "blacklist", "action": "add", "reject": {
        "reason": "hard-bounce", "detail": "Example detail", "email":
        "example.webhook@mandrillapp.com", "created_at": "2014-01-01 12:00:00"},
     "ts": 1384954004},
]


def read(record: dict[str, Any]) -> ProviderEvent:
    """``record`` as the webhook reads it, received at :data:`NOW`."""
    return parse_event(record, NOW)


@pytest.fixture(scope="module")
def key() -> str:
    return secrets.token_urlsafe(16)


def mandrill_signature(key: str, url: str, params: dict[str, str]) -> str:
    """Mandrill's algorithm, written out here: the test's own, not the module's."""
    data = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    digest = hmac.new(key.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def posted(
    key: str, events: list[dict[str, Any]], *, signed_url: str = URL, to: str = URL,
    extra: dict[str, str] | None = None,
) -> tuple[bytes, dict[str, str], str]:
    params = {"mandrill_events": json.dumps(events), **(extra or {})}
    headers = {SIGNATURE: mandrill_signature(key, signed_url, params)}
    return urlencode(params).encode(), headers, to


def receive(scheme: MandrillWebhook, body: bytes, headers: dict[str, str], url: str) -> Any:
    return scheme.receive(received(body, headers, url), NOW)


# -- authenticity ------------------------------------------------------------------------


def test_a_batch_signed_with_the_webhooks_key_is_accepted(key: str) -> None:
    events = receive(MandrillWebhook(key), *posted(key, DOCUMENTED_EVENTS[1:4]))

    assert [event.type for event in events] == [
        EventType.DELIVERED, EventType.DEFERRED, EventType.BOUNCED,
    ]


def test_every_form_field_is_signed_in_name_order(key: str) -> None:
    body, headers, url = posted(key, DOCUMENTED_EVENTS[1:2], extra={"a_field": "x", "z": "y"})

    assert receive(MandrillWebhook(key), body, headers, url)


def test_a_batch_signed_with_another_key_is_refused(key: str) -> None:
    with pytest.raises(Unverified, match="not Mandrill's"):
        receive(MandrillWebhook(key), *posted("another key", DOCUMENTED_EVENTS[1:2]))


def test_a_tampered_batch_is_refused(key: str) -> None:
    body, headers, url = posted(key, DOCUMENTED_EVENTS[1:2])

    with pytest.raises(Unverified):
        receive(MandrillWebhook(key), body.replace(b"delivered", b"spam"), headers, url)


def test_a_request_without_the_signature_header_is_refused(key: str) -> None:
    body, _, url = posted(key, DOCUMENTED_EVENTS[1:2])

    with pytest.raises(Unverified, match=SIGNATURE):
        receive(MandrillWebhook(key), body, {}, url)


def test_a_signature_for_another_url_is_refused(key: str) -> None:
    with pytest.raises(Unverified):
        receive(MandrillWebhook(key), *posted(
            key, DOCUMENTED_EVENTS[1:2], signed_url="https://elsewhere.example/hook",
        ))


def test_behind_a_proxy_the_configured_url_is_the_one_checked(key: str) -> None:
    """Mandrill signs the public URL; the request reaches the service at another one."""
    internal = "http://10.0.0.5:8000/webhooks/mandrill"
    request = posted(key, DOCUMENTED_EVENTS[1:2], signed_url=URL, to=internal)

    assert receive(MandrillWebhook(key, url=URL), *request)
    with pytest.raises(Unverified, match="the request came to"):
        receive(MandrillWebhook(key), *request)


def test_a_replayed_batch_passes_the_check_with_the_same_event_ids(key: str) -> None:
    """Mandrill signs no time: de-duplication on the event ids keeps a replay once."""
    request = posted(key, DOCUMENTED_EVENTS)
    scheme = MandrillWebhook(key)

    first, again = receive(scheme, *request), receive(scheme, *request)

    assert [event.event_id for event in first] == [event.event_id for event in again]
    assert len({event.event_id for event in first}) == len(DOCUMENTED_EVENTS)


# -- the events --------------------------------------------------------------------------


def test_mandrills_test_batch_reads_as_its_types() -> None:
    events = [read(record) for record in DOCUMENTED_EVENTS]

    assert [(event.type, event.bounce) for event in events] == [
        (EventType.UNKNOWN, None),
        (EventType.DELIVERED, None),
        (EventType.DEFERRED, None),
        (EventType.BOUNCED, BounceKind.HARD),
        (EventType.BOUNCED, BounceKind.SOFT),
        (EventType.OPENED, None),
        (EventType.CLICKED, None),
        (EventType.COMPLAINED, None),
        (EventType.UNSUBSCRIBED, None),
        (EventType.DROPPED, None),
        (EventType.UNKNOWN, None),
    ]
    bounce = events[3]
    assert bounce.email_id == "0b0ef8a4-43a8-4bd9-b2c4-2a1c1de0f0b1"
    assert bounce.message_id == "exampleaaaaaaaaaaaaaaaaaaaaaaaaa"
    assert bounce.recipient == "example.webhook@mandrillapp.com"
    assert bounce.at.isoformat() == "2013-11-20T13:26:44+00:00"
    assert bounce.detail == (
        "hard_bounce: bad_mailbox; smtp;550 5.1.1 The email account that you tried to reach "
        "does not exist."
    )
    assert bounce.raw == DOCUMENTED_EVENTS[3]
    assert events[2].detail == "deferral: 451 4.3.5 Temporarily unavailable, try again later."
    assert events[6].detail == "click: http://mandrill.com"
    assert events[10].recipient == "example.webhook@mandrillapp.com"
    assert events[10].detail == "blacklist: hard-bounce"


@pytest.mark.parametrize(("name", "expected"), list(EVENTS.items()))
def test_each_row_of_the_table(
    name: str, expected: tuple[EventType, BounceKind | None],
) -> None:
    event = read({"event": name, "ts": 1384954004, "_id": "m", "msg": {}})

    assert (event.type, event.bounce) == expected


def test_an_event_mandrill_adds_later_is_unknown() -> None:
    assert read({"event": "recipient_reply", "ts": 1}).type is EventType.UNKNOWN


def test_the_event_id_ignores_the_message_snapshot_a_resend_may_update() -> None:
    record = DOCUMENTED_EVENTS[5]
    later = record | {"msg": record["msg"] | {"opens": [{"ts": 1384954010}]}}

    assert read(later).event_id == read(record).event_id
    assert read(record | {"ts": 1384954005}).event_id != read(record).event_id


@pytest.mark.parametrize(("params", "complaint"), [
    ({"other": "x"}, "no mandrill_events"),
    ({"mandrill_events": "not json"}, "not JSON"),
    ({"mandrill_events": "{}"}, "not a JSON array"),
    ({"mandrill_events": "[1]"}, "not a JSON array of event objects"),
    ({"mandrill_events": json.dumps([{"event": "send", "ts": 1}] * 1001)}, "1001 events"),
])
def test_a_verified_form_that_is_not_mandrills_format_is_malformed(
    key: str, params: dict[str, str], complaint: str,
) -> None:
    headers = {SIGNATURE: mandrill_signature(key, URL, params)}

    with pytest.raises(Malformed, match=complaint):
        receive(MandrillWebhook(key), urlencode(params).encode(), headers, URL)


def test_a_batch_of_a_thousand_events_is_taken(key: str) -> None:
    assert len(receive(MandrillWebhook(key), *posted(key, [DOCUMENTED_EVENTS[1]] * 1000))) \
        == 1000


# -- settings and the sandbox ------------------------------------------------------------


def test_the_real_scheme_needs_the_key_and_takes_the_url(key: str) -> None:
    assert mandrill.real(Settings()) is None
    internal = "http://10.0.0.5:8000/webhooks/mandrill"
    scheme = mandrill.real(Settings(mandrill_webhook_key=key, mandrill_webhook_url=URL))
    assert scheme is not None
    assert receive(scheme, *posted(key, DOCUMENTED_EVENTS[1:2], to=internal))
    assert key not in repr(scheme) and URL not in repr(scheme)


def test_settings_refuse_a_webhook_url_that_is_no_url() -> None:
    with pytest.raises(ValidationError, match="MANDRILL_WEBHOOK_URL must be"):
        Settings(mandrill_webhook_key="k", mandrill_webhook_url="mail.example.com/hook")


def test_the_sandbox_signers_batch_is_accepted_and_yields_the_events_it_was_given() -> None:
    given = sandbox_events("8e3f1c2b9a7d4e6f8a1b2c3d4e5f6a7b")
    signed = SIGNERS["mandrill"](given, WEBHOOK_URL.format(provider="mandrill"), NOW)

    events = WEBHOOKS["mandrill"].sandbox().receive(from_signed(signed), NOW)

    assert [(e.type, e.bounce, e.email_id, e.message_id, e.recipient, e.at) for e in events] == [
        (g.type, g.bounce, g.email_id, g.message_id, g.recipient, g.at) for g in given
    ]
    assert events[1].detail is not None and "550 5.1.1 no such mailbox" in events[1].detail
    assert signed.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_the_sandbox_key_verifies_nothing_signed_with_a_real_key(key: str) -> None:
    signed = SIGNERS["mandrill"](sandbox_events("m"), URL, NOW)

    with pytest.raises(Unverified):
        MandrillWebhook(key).receive(from_signed(signed), NOW)
    with pytest.raises(Unverified):
        receive(mandrill.sandbox(), *posted(key, DOCUMENTED_EVENTS[1:2]))
