"""Mailgun's webhook: hex HMAC-SHA256 of timestamp + token with the webhook signing key, a
timestamp window and a memory of tokens against replays, every Mailgun event in micromailer's
vocabulary."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from micromailer.config import Settings
from micromailer.domain.events import BounceKind, EventType, ProviderEvent
from micromailer.sandbox.events import SIGNERS
from micromailer.webhooks import mailgun
from micromailer.webhooks.base import REPLAY_WINDOW_SECONDS, Malformed, Unverified
from micromailer.webhooks.mailgun import (
    EVENTS,
    MailgunWebhook,
    SeenTokens,
    message_id,
    parse_event,
)
from micromailer.webhooks.registry import WEBHOOKS
from tests.support.webhook_requests import NOW, WEBHOOK_URL, from_signed, received, sandbox_events

#: The examples of Mailgun's events API (``G#/paths/~1v3~1{domain_name}~1events/get``, response
#: examples, in ``mailgun/openapi.yaml``), whose items are the ``event-data`` its webhooks send;
#: ``user-variables`` hold micromailer's ``email_id`` in the delivered one.
DOCUMENTED_EVENTS: dict[str, dict[str, Any]] = {
    "Accepted": {
        "event": "accepted", "id": "jxVuhYlhReaK3QsggHfFRA", "timestamp": 1529692198.641821,
        "log-level": "info", "method": "smtp",
        "envelope": {"targets": "team@example.org", "transport": "smtp",
                     "sender": "sender@example.org"},
        "flags": {"is-authenticated": False},
        "message": {"headers": {"to": "team@example.org",
                                "message-id": "20180622182958.1.48906CB188F1A454@exmple.org",
                                "from": "sender@example.org", "subject": "Test Subject"},
                    "attachments": [], "recipients": ["team@example.org"], "size": 586},
        "recipient": "team@example.org", "recipient-domain": "example.org", "tags": [],
        "user-variables": {},
    },
    "Delivered": {
        "event": "delivered", "id": "hK7mQVt1QtqRiOfQXta4sw", "timestamp": 1529692199.626182,
        "log-level": "info",
        "envelope": {"transport": "smtp", "sender": "sender@example.org",
                     "sending-ip": "123.123.123.123", "targets": "john@example.com"},
        "flags": {"is-routed": False, "is-authenticated": False, "is-system-test": False,
                  "is-test-mode": False},
        "delivery-status": {"tls": True, "mx-host": "aspmx.l.example.com", "code": 250,
                            "description": "", "session-seconds": 0.4367079734802246,
                            "utf8": True, "attempt-no": 1, "message": "OK",
                            "certificate-verified": True},
        "message": {"headers": {"to": "team@example.org",
                                "message-id": "20180622182958.1.48906CB188F1A454@exmple.org",
                                "from": "sender@exmple.org", "subject": "Test Subject"},
                    "attachments": [], "size": 586},
        "recipient": "john@example.com", "recipient-domain": "example.com",
        "recipient-provider": "Gmail", "tags": [],
        "user-variables": {"email_id": "5d0c7e0a-58a4-4c0e-a3fb-96f8f0a0c0de"},
    },
    "Failed": {
        "event": "failed", "id": "pl271FzxTTmGRW8Uj3dUWw", "timestamp": 1529701969.818328,
        "log-level": "error", "severity": "permanent", "reason": "suppress-bounce",
        "envelope": {"sender": "john@example.org", "transport": "smtp",
                     "targets": "joan@example.com"},
        "delivery-status": {"attempt-no": 1, "message": "", "code": 605,
                            "description": "Not delivering to previously bounced address",
                            "session-seconds": 0},
        "message": {"headers": {"to": "joan@example.com",
                                "message-id": "20180622211249.1.2A6098970A380E12@example.org",
                                "from": "john@example.org", "subject": "Test Subject"},
                    "attachments": [], "size": 867},
        "recipient": "slava@mailgun.com", "recipient-domain": "mailgun.com", "tags": [],
        "user-variables": {},
    },
    "Rejected": {
        "event": "rejected", "id": "OMTXD3-sSmKIQa1gSKkYVA", "timestamp": 1529704976.104692,
        "log-level": "warn", "flags": {"is-test-mode": False},
        "reject": {"reason": "Sandbox subdomains are for test purposes only.",
                   "description": ""},
        "message": {"headers": {"to": "joan@example.org",
                                "message-id": "20180622220256.1.B31A451A2E5422BB@sandbox.org",
                                "from": "john@sandbox.org", "subject": "Test Subject"},
                    "attachments": [], "size": 867},
        "tags": [], "user-variables": {},
    },
    "Complained": {
        "event": "complained", "id": "ncV2XwymRUKbPek_MIM-Gw", "timestamp": 1377214260.049634,
        "log-level": "warn", "recipient": "foo@example.com", "tags": [], "user-variables": {},
        "flags": {"is-test-mode": False},
        "message": {"headers": {"to": "foo@example.com",
                                "message-id": "20130718032413.263EE2E0926@example.com",
                                "from": "John Doe <sender@example.com>",
                                "subject": "This is the subject."},
                    "attachments": [], "size": 18937},
    },
    "Unsubscribed": {
        "event": "unsubscribed", "id": "W3X4JOhFT-OZidZGKKr9iA", "timestamp": 1377213791.421473,
        "log-level": "info", "recipient": "recipient@example.com", "tags": [],
        "user-variables": {}, "ip": "23.23.23.345",
        "message": {"headers": {"message-id": "20130822232216.13966.79700@samples.mailgun.org"}},
    },
    "Clicked": {
        "event": "clicked", "id": "G5zMz2ysS6OxZ2C8xb2Tqg", "timestamp": 1377075564.094891,
        "log-level": "info", "recipient": "recipient@example.com", "tags": [],
        "url": "http://example.com/signup", "recipient-provider": "Gmail",
        "ip": "123.123.123.321", "user-variables": {},
        "message": {"headers": {"message-id": "20130821085807.30688.67706@samples.mailgun.org"}},
    },
    "Opened": {
        "event": "opened", "id": "-laxIqj9QWubsjY_3pTq_g", "timestamp": 1377047343.042277,
        "log-level": "info", "recipient": "recipient@example.com",
        "recipient-provider": "Gmail", "tags": [], "user-variables": {},
        "ip": "111.111.111.111",
        "message": {"headers": {"message-id": "20130821005614.19826.35976@samples.mailgun.org"}},
    },
}


def read(record: dict[str, Any]) -> ProviderEvent:
    """``record`` as the webhook reads it, received at :data:`NOW`."""
    return parse_event(record, NOW)


@pytest.fixture
def key() -> str:
    return secrets.token_hex(16)


def signature(key: str, timestamp: str, token: str) -> str:
    """Mailgun's algorithm, written out here: the test's own, not the module's."""
    return hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def posted(
    key: str, data: dict[str, Any], *, at: float | None = None, token: str | None = None,
) -> bytes:
    timestamp = str(int(NOW.timestamp() if at is None else at))
    token = token or secrets.token_hex(25)
    return json.dumps({
        "signature": {"timestamp": timestamp, "token": token,
                      "signature": signature(key, timestamp, token)},
        "event-data": data,
    }).encode()


# -- authenticity ------------------------------------------------------------------------


def test_an_event_signed_with_the_signing_key_is_accepted(key: str) -> None:
    [event] = MailgunWebhook(key).receive(received(posted(key, DOCUMENTED_EVENTS["Delivered"])),
                                          NOW)

    assert event.type is EventType.DELIVERED


def test_an_event_signed_with_another_key_is_refused(key: str) -> None:
    body = posted("another key", DOCUMENTED_EVENTS["Delivered"])

    with pytest.raises(Unverified, match="not Mailgun's"):
        MailgunWebhook(key).receive(received(body), NOW)


@pytest.mark.parametrize("part", ["timestamp", "token", "signature"])
def test_a_tampered_signature_block_is_refused(key: str, part: str) -> None:
    document = json.loads(posted(key, DOCUMENTED_EVENTS["Delivered"]))
    value = document["signature"][part]
    document["signature"][part] = value[:-1] + ("0" if value[-1] != "0" else "1")

    with pytest.raises(Unverified):
        MailgunWebhook(key).receive(received(json.dumps(document).encode()), NOW)


@pytest.mark.parametrize("body", [
    b"", b"not json", b"[]", json.dumps({"event-data": {}}).encode(),
    json.dumps({"signature": {"timestamp": "1", "token": "t"}, "event-data": {}}).encode(),
    b"timestamp=1&token=t&signature=s&event=delivered",
    b"[" * 100_000 + b"]" * 100_000,
])
def test_a_request_without_mailguns_signature_block_is_refused(key: str, body: bytes) -> None:
    with pytest.raises(Unverified, match="no signature"):
        MailgunWebhook(key).receive(received(body), NOW)


@pytest.mark.parametrize("age", [REPLAY_WINDOW_SECONDS + 1, -(REPLAY_WINDOW_SECONDS + 1)])
def test_a_correctly_signed_event_outside_the_window_is_a_replay(key: str, age: float) -> None:
    body = posted(key, DOCUMENTED_EVENTS["Delivered"], at=NOW.timestamp() - age)

    with pytest.raises(Unverified, match="window"):
        MailgunWebhook(key).receive(received(body), NOW)


def test_a_token_used_again_within_the_window_is_a_replay(key: str) -> None:
    scheme = MailgunWebhook(key)
    body = posted(key, DOCUMENTED_EVENTS["Delivered"])

    assert scheme.receive(received(body), NOW)
    with pytest.raises(Unverified, match="already used"):
        scheme.receive(received(body), NOW + timedelta(seconds=10))


def test_a_forged_request_does_not_burn_the_token_it_names(key: str) -> None:
    scheme = MailgunWebhook(key)
    token = secrets.token_hex(25)
    forged = posted("another key", DOCUMENTED_EVENTS["Delivered"], token=token)

    with pytest.raises(Unverified):
        scheme.receive(received(forged), NOW)
    assert scheme.receive(received(posted(key, DOCUMENTED_EVENTS["Delivered"], token=token)), NOW)


def test_of_threads_replaying_one_token_at_once_exactly_one_is_accepted(key: str) -> None:
    scheme = MailgunWebhook(key)
    body = posted(key, DOCUMENTED_EVENTS["Delivered"])
    outcomes: list[bool] = []
    start = threading.Barrier(8)

    def post() -> None:
        start.wait()
        try:
            scheme.receive(received(body), NOW)
            outcomes.append(True)
        except Unverified:
            outcomes.append(False)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == [False] * 7 + [True]


def test_the_token_memory_forgets_tokens_past_their_window_and_stays_bounded() -> None:
    tokens = SeenTokens(capacity=3)

    assert tokens.first_use("a", expires=100, now=0)
    assert not tokens.first_use("a", expires=100, now=50)
    assert tokens.first_use("a", expires=300, now=101)  # forgotten: its window had ended
    for name in ("b", "c", "d"):
        assert tokens.first_use(name, expires=1000, now=102)
    assert len(tokens) == 3
    assert tokens.first_use("a", expires=1000, now=103)  # the oldest went first


def test_the_same_event_sent_again_with_a_new_signature_keeps_its_event_id(key: str) -> None:
    """Mailgun signs each retry anew: across processes, de-duplication on the event id
    keeps it once."""
    scheme = MailgunWebhook(key)
    [first] = scheme.receive(received(posted(key, DOCUMENTED_EVENTS["Delivered"])), NOW)
    [again] = scheme.receive(received(posted(key, DOCUMENTED_EVENTS["Delivered"])), NOW)

    assert first.event_id == again.event_id


# -- the events --------------------------------------------------------------------------


def test_the_spec_examples_read_as_their_types() -> None:
    events = {name: read(data) for name, data in DOCUMENTED_EVENTS.items()}

    assert {name: (event.type, event.bounce) for name, event in events.items()} == {
        "Accepted": (EventType.UNKNOWN, None),
        "Delivered": (EventType.DELIVERED, None),
        "Failed": (EventType.DROPPED, None),
        "Rejected": (EventType.DROPPED, None),
        "Complained": (EventType.COMPLAINED, None),
        "Unsubscribed": (EventType.UNSUBSCRIBED, None),
        "Clicked": (EventType.CLICKED, None),
        "Opened": (EventType.OPENED, None),
    }
    delivered = events["Delivered"]
    assert delivered.email_id == "5d0c7e0a-58a4-4c0e-a3fb-96f8f0a0c0de"
    assert delivered.message_id == "<20180622182958.1.48906CB188F1A454@exmple.org>"
    assert delivered.recipient == "john@example.com"
    assert delivered.at.isoformat() == "2018-06-22T18:29:59.626182+00:00"
    assert delivered.event_id == "hK7mQVt1QtqRiOfQXta4sw:1529692199.626182"
    assert delivered.raw == DOCUMENTED_EVENTS["Delivered"]
    assert events["Failed"].detail == (
        "failed (suppressed): Not delivering to previously bounced address"
    )
    assert events["Rejected"].detail == (
        "rejected: Sandbox subdomains are for test purposes only."
    )
    assert events["Clicked"].detail == "clicked: http://example.com/signup"


@pytest.mark.parametrize(("key", "expected"), list(EVENTS.items()), ids=str)
def test_each_row_of_the_table(
    key: tuple[str, str | None], expected: tuple[EventType, BounceKind | None],
) -> None:
    name, qualifier = key
    data: dict[str, Any] = {"event": name, "id": "x", "timestamp": 1529692199.6}
    if qualifier == "suppressed":
        data |= {"severity": "permanent", "reason": "suppress-unsubscribe"}
    elif qualifier is not None:
        data |= {"severity": qualifier.upper(), "reason": "bounce"}

    event = read(data)

    assert (event.type, event.bounce) == expected


def test_an_event_mailgun_adds_later_is_unknown() -> None:
    assert read({"event": "list_member_uploaded", "timestamp": 1}).type \
        is EventType.UNKNOWN


@pytest.mark.parametrize(("header", "expected"), [
    ("20180622182958.1.48906CB188F1A454@exmple.org",
     "<20180622182958.1.48906CB188F1A454@exmple.org>"),
    ("<20180622182958.1.48906CB188F1A454@exmple.org>",
     "<20180622182958.1.48906CB188F1A454@exmple.org>"),
    (None, None),
])
def test_the_message_id_is_written_as_the_adapter_recorded_mailguns_answer(
    header: str | None, expected: str | None,
) -> None:
    assert message_id(header) == expected


@pytest.mark.parametrize(("data", "complaint"), [
    (None, "no event-data"),
    ([], "no event-data"),
])
def test_a_verified_request_that_is_not_mailguns_format_is_malformed(
    key: str, data: Any, complaint: str,
) -> None:
    with pytest.raises(Malformed, match=complaint):
        MailgunWebhook(key).receive(received(posted(key, data)), NOW)


# -- settings and the sandbox ------------------------------------------------------------


def test_the_real_scheme_needs_the_signing_key(key: str) -> None:
    assert mailgun.real(Settings()) is None
    scheme = mailgun.real(Settings(mailgun_webhook_signing_key=key))
    assert scheme is not None
    assert scheme.receive(received(posted(key, DOCUMENTED_EVENTS["Delivered"])), NOW)
    assert key not in repr(scheme)


def test_the_sandbox_signers_requests_are_accepted_and_yield_the_events_given() -> None:
    """One request per event, as Mailgun sends them; the message id as the fake answered."""
    given = sandbox_events("<20261205120000.8f14e45fceea167a@sandbox.micromailer.test>")
    scheme = WEBHOOKS["mailgun"].sandbox()
    url = WEBHOOK_URL.format(provider="mailgun")

    events = [
        event for one in given
        for event in scheme.receive(from_signed(SIGNERS["mailgun"]([one], url, NOW)), NOW)
    ]

    assert [(e.type, e.bounce, e.email_id, e.message_id, e.recipient, e.at) for e in events] == [
        (g.type, g.bounce, g.email_id, g.message_id, g.recipient, g.at) for g in given
    ]
    assert events[1].detail == "failed (permanent): 550 5.1.1 no such mailbox"
    with pytest.raises(ValueError, match="one event per request"):
        SIGNERS["mailgun"](given, url, NOW)


def test_the_sandbox_key_verifies_nothing_signed_with_a_real_key(key: str) -> None:
    from_sandbox = SIGNERS["mailgun"](sandbox_events("<m@x>")[:1], "https://x/", NOW)

    with pytest.raises(Unverified):
        MailgunWebhook(key).receive(from_signed(from_sandbox), NOW)
    with pytest.raises(Unverified):
        mailgun.sandbox().receive(received(posted(key, DOCUMENTED_EVENTS["Delivered"])), NOW)


def test_the_signing_key_may_come_from_a_mounted_file(
    key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = tmp_path / "mailgun-signing-key"
    secret.write_text(key + "\n")
    monkeypatch.setenv("MAILGUN_WEBHOOK_SIGNING_KEY_FILE", str(secret))

    scheme = mailgun.real(Settings())

    assert scheme is not None
    assert scheme.receive(received(posted(key, DOCUMENTED_EVENTS["Delivered"])), NOW)
