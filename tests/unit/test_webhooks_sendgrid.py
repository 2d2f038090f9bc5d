"""SendGrid's signed Event Webhook: ECDSA P-256 over timestamp + body with the account's key,
fresh timestamps only, and every SendGrid event in micromailer's vocabulary."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError

from micromailer.config import Settings
from micromailer.domain.events import BounceKind, EventType, ProviderEvent
from micromailer.sandbox.events import SIGNERS
from micromailer.webhooks import sendgrid
from micromailer.webhooks.base import REPLAY_WINDOW_SECONDS, Malformed, Unverified
from micromailer.webhooks.registry import WEBHOOKS
from micromailer.webhooks.sendgrid import EVENTS, SendGridWebhook, message_id, parse_event
from micromailer.webhooks.sendgrid_key import load_public_key
from tests.support.webhook_requests import NOW, WEBHOOK_URL, from_signed, received, sandbox_events

SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"

#: The Event Webhook reference's example of each event (sendgrid/docs,
#: content/docs/for-developers/tracking-events/event.md), ``email_id`` added as micromailer's
#: custom argument.
DOCUMENTED_EVENTS: list[dict[str, Any]] = [
    {"email": "example@test.com", "timestamp": 1513299569, "pool": {"name": "new_MY_test",
     "id": 210}, "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "event": "processed",
     "category": "cat facts", "sg_event_id": "rbtnWrG1DVDGGGFHFyun0A==",
     "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.000000000000000000000"},
    {"email": "example@test.com", "timestamp": 1513299569,
     "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "event": "dropped",
     "category": "cat facts", "sg_event_id": "zmzJhfJgAfUSOW80yEbPyw==",
     "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
     "reason": "Bounced Address", "status": "5.0.0"},
    {"email": "example@test.com", "timestamp": 1513299569,
     "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "event": "delivered",
     "category": "cat facts", "sg_event_id": "rWVYmVk90MjZJ9iohOBa3w==",
     "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
     "response": "250 OK", "email_id": "9b2f6a51-2f43-4b7e-9d53-07c0a1e1f0aa"},
    {"email": "example@test.com", "timestamp": 1513299569,
     "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "event": "deferred",
     "category": "cat facts", "sg_event_id": "t7LEShmowp86DTdUW8M-GQ==",
     "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
     "response": "400 try again later", "attempt": "5"},
    {"email": "example@test.com", "timestamp": 1513299569,
     "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "event": "bounce",
     "category": "cat facts", "sg_event_id": "6g4ZI7SA-xmRDv57GoPIPw==",
     "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
     "reason": "500 unknown recipient", "status": "5.0.0", "type": "bounce"},
    {"email": "example@test.com", "timestamp": 1513299569,
     "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "event": "bounce",
     "category": "cat facts", "sg_event_id": "6g4ZI7SA-xmRDv57GoPIPx==",
     "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
     "reason": "500 unknown recipient", "status": "5.0.0", "type": "blocked"},
    {"email": "example@test.com", "timestamp": 1513299569,
     "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "event": "open",
     "category": "cat facts", "sg_event_id": "FOTFFO0ecsBE-zxFXfs6WA==",
     "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
     "useragent": "Mozilla/4.0 (compatible; MSIE 6.1; Windows XP)", "ip": "255.255.255.255"},
    {"email": "example@test.com", "timestamp": 1513299569,
     "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "event": "click",
     "category": "cat facts", "sg_event_id": "kCAi1KttyQdEKHhdC-nuEA==",
     "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
     "useragent": "Mozilla/4.0 (compatible; MSIE 6.1; Windows XP)", "ip": "255.255.255.255",
     "url": "http://www.sendgrid.com/"},
    {"email": "example@test.com", "timestamp": 1513299569,
     "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "event": "spamreport",
     "category": "cat facts", "sg_event_id": "37nvH5QBz858KGVYCM4uOA==",
     "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"},
    {"email": "example@test.com", "timestamp": 1513299569,
     "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "event": "unsubscribe",
     "category": "cat facts", "sg_event_id": "zz_BjPgU_5pS-J8vlfB1sg==",
     "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"},
    {"email": "example@test.com", "timestamp": 1513299569,
     "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "event": "group_unsubscribe",
     "category": "cat facts", "sg_event_id": "ahSCB7xYcXFb-hEaawsPRw==",
     "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
     "url": "http://www.sendgrid.com/", "asm_group_id": 10},
    {"email": "example@test.com", "timestamp": 1513299569,
     "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>", "event": "group_resubscribe",
     "category": "cat facts", "sg_event_id": "w_u0vJhLT-OFfprar5N93g==",
     "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
     "url": "http://www.sendgrid.com/", "asm_group_id": 10},
]


def read(record: dict[str, Any]) -> ProviderEvent:
    """``record`` as the webhook reads it, received at :data:`NOW`."""
    return parse_event(record, NOW)


@pytest.fixture(scope="module")
def private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def scheme(private_key: ec.EllipticCurvePrivateKey) -> SendGridWebhook:
    return SendGridWebhook(private_key.public_key())


def signed(
    key: ec.EllipticCurvePrivateKey, body: bytes, at: datetime = NOW,
) -> dict[str, str]:
    """SendGrid's headers for ``body`` sent at ``at``."""
    timestamp = str(int(at.timestamp()))
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {SIGNATURE: base64.b64encode(signature).decode(), TIMESTAMP: timestamp}


def batch(*records: dict[str, Any]) -> bytes:
    return json.dumps(list(records)).encode() + b"\r\n"


def public_key_text(key: ec.EllipticCurvePrivateKey) -> str:
    """The key as SendGrid shows it: base64 of the DER SubjectPublicKeyInfo."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


# -- authenticity ------------------------------------------------------------------------


def test_a_batch_signed_with_the_accounts_key_is_accepted(
    scheme: SendGridWebhook, private_key: ec.EllipticCurvePrivateKey,
) -> None:
    body = batch(*DOCUMENTED_EVENTS[2:5])

    events = scheme.receive(received(body, signed(private_key, body)), NOW)

    assert [event.type for event in events] == [
        EventType.DELIVERED, EventType.DEFERRED, EventType.BOUNCED,
    ]


def test_sendgrids_own_published_signature_verifies() -> None:
    """The test vector of SendGrid's Python library (sendgrid/sendgrid-python,
    test/unit/test_eventwebhook.py): a key, a body (with its trailing CRLF) and a signature
    SendGrid made, so the check agrees with SendGrid's, not only with itself."""
    key = load_public_key(
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3G"
        "Rqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
    )
    body = json.dumps([{
        "email": "hello@world.com", "event": "dropped", "reason": "Bounced Address",
        "sg_event_id": "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",
        "sg_message_id":
            "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
        "smtp-id": "<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>",
        "timestamp": 1600112492,
    }], sort_keys=True, separators=(",", ":")).encode() + b"\r\n"
    headers = {
        SIGNATURE: "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQA"
                   "bPIqHh89M15TluLtEZtM=",
        TIMESTAMP: "1600112502",
    }
    sent_at = datetime.fromtimestamp(1600112502, UTC)

    [event] = SendGridWebhook(key).receive(received(body, headers), sent_at + timedelta(seconds=3))

    assert event.type is EventType.DROPPED
    assert event.message_id == "LRzXl_NHStOGhQ4kofSm_A"
    with pytest.raises(Unverified):
        SendGridWebhook(key).receive(received(body.replace(b"hello", b"hallo"), headers), sent_at)


def test_a_batch_signed_with_another_key_is_refused(scheme: SendGridWebhook) -> None:
    body = batch(DOCUMENTED_EVENTS[2])
    forger = ec.generate_private_key(ec.SECP256R1())

    with pytest.raises(Unverified, match="not SendGrid's"):
        scheme.receive(received(body, signed(forger, body)), NOW)


def test_a_tampered_body_is_refused(
    scheme: SendGridWebhook, private_key: ec.EllipticCurvePrivateKey,
) -> None:
    body = batch(DOCUMENTED_EVENTS[2])
    headers = signed(private_key, body)

    with pytest.raises(Unverified):
        scheme.receive(received(body.replace(b"delivered", b"spamreport"), headers), NOW)


def test_a_signature_moved_to_another_timestamp_is_refused(
    scheme: SendGridWebhook, private_key: ec.EllipticCurvePrivateKey,
) -> None:
    body = batch(DOCUMENTED_EVENTS[2])
    headers = signed(private_key, body) | {TIMESTAMP: str(int(NOW.timestamp()) + 1)}

    with pytest.raises(Unverified):
        scheme.receive(received(body, headers), NOW)


@pytest.mark.parametrize("missing", [SIGNATURE, TIMESTAMP])
def test_a_request_without_a_signature_header_is_refused(
    scheme: SendGridWebhook, private_key: ec.EllipticCurvePrivateKey, missing: str,
) -> None:
    body = batch(DOCUMENTED_EVENTS[2])
    headers = {name: value for name, value in signed(private_key, body).items() if name != missing}

    with pytest.raises(Unverified, match="header"):
        scheme.receive(received(body, headers), NOW)


@pytest.mark.parametrize("signature", ["not base64!", base64.b64encode(b"\x30\x02").decode()])
def test_a_signature_that_is_no_signature_is_refused(
    scheme: SendGridWebhook, signature: str,
) -> None:
    body = batch(DOCUMENTED_EVENTS[2])
    headers = {SIGNATURE: signature, TIMESTAMP: str(int(NOW.timestamp()))}

    with pytest.raises(Unverified):
        scheme.receive(received(body, headers), NOW)


@pytest.mark.parametrize("age", [REPLAY_WINDOW_SECONDS + 1, -(REPLAY_WINDOW_SECONDS + 1)])
def test_a_correctly_signed_batch_outside_the_window_is_a_replay(
    scheme: SendGridWebhook, private_key: ec.EllipticCurvePrivateKey, age: float,
) -> None:
    body = batch(DOCUMENTED_EVENTS[2])
    headers = signed(private_key, body, NOW - timedelta(seconds=age))

    with pytest.raises(Unverified, match="window"):
        scheme.receive(received(body, headers), NOW)
    assert scheme.receive(received(body, headers), NOW - timedelta(seconds=age))


# -- the events --------------------------------------------------------------------------


def test_the_documented_examples_read_as_their_types() -> None:
    events = [read(record) for record in DOCUMENTED_EVENTS]

    assert [(event.type, event.bounce) for event in events] == [
        (EventType.UNKNOWN, None),
        (EventType.DROPPED, None),
        (EventType.DELIVERED, None),
        (EventType.DEFERRED, None),
        (EventType.BOUNCED, BounceKind.HARD),
        (EventType.BOUNCED, BounceKind.SOFT),
        (EventType.OPENED, None),
        (EventType.CLICKED, None),
        (EventType.COMPLAINED, None),
        (EventType.UNSUBSCRIBED, None),
        (EventType.UNSUBSCRIBED, None),
        (EventType.UNKNOWN, None),
    ]
    delivered, click = events[2], events[7]
    assert delivered.email_id == "9b2f6a51-2f43-4b7e-9d53-07c0a1e1f0aa"
    assert delivered.message_id == "14c5d75ce93.dfd.64b469"
    assert delivered.event_id == "rWVYmVk90MjZJ9iohOBa3w=="
    assert delivered.recipient == "example@test.com"
    assert delivered.at == datetime(2017, 12, 15, 0, 59, 29, tzinfo=UTC)
    assert delivered.raw == DOCUMENTED_EVENTS[2]
    assert events[1].detail == "dropped: Bounced Address"
    assert events[5].detail == "bounce (blocked): 500 unknown recipient"
    assert click.detail == "click: http://www.sendgrid.com/"


@pytest.mark.parametrize(("key", "expected"), list(EVENTS.items()), ids=str)
def test_each_row_of_the_table(
    key: tuple[str, str | None], expected: tuple[EventType, BounceKind | None],
) -> None:
    name, kind = key
    record = {"event": name, "timestamp": 1513299569, "sg_event_id": "e"}
    if kind is not None:
        record["type"] = kind

    event = read(record)

    assert (event.type, event.bounce) == expected


def test_an_event_sendgrid_adds_later_is_unknown_and_a_bounce_without_type_is_hard() -> None:
    assert read({"event": "account_status_change", "timestamp": 1}).type \
        is EventType.UNKNOWN
    bounce = read({"event": "bounce", "timestamp": 1})
    assert (bounce.type, bounce.bounce) == (EventType.BOUNCED, BounceKind.HARD)


@pytest.mark.parametrize(("sg_message_id", "expected"), [
    ("LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
     "LRzXl_NHStOGhQ4kofSm_A"),
    ("14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0", "14c5d75ce93.dfd.64b469"),
    ("A6FilwaAR_Wm_VTCEFql_w.recvd-5f4b7b9c8-abcde-1-6482.0", "A6FilwaAR_Wm_VTCEFql_w"),
    ("A6FilwaAR_Wm_VTCEFql_w.other-suffix", "A6FilwaAR_Wm_VTCEFql_w"),
    ("A6FilwaAR_Wm_VTCEFql_w", "A6FilwaAR_Wm_VTCEFql_w"),
    (None, None),
])
def test_the_message_id_is_the_x_message_id_the_adapter_recorded(
    sg_message_id: str | None, expected: str | None,
) -> None:
    assert message_id(sg_message_id) == expected


def test_an_event_without_a_time_is_dated_when_it_is_received() -> None:
    assert read({"event": "open"}).at == NOW


def test_an_event_without_sendgrids_id_gets_the_same_id_each_time() -> None:
    record = {"event": "open", "timestamp": 1513299569, "email": "a@example.com"}

    assert read(dict(record)).event_id == read(dict(record)).event_id
    assert read(record | {"timestamp": 1513299570}).event_id \
        != read(record).event_id


@pytest.mark.parametrize(("body", "complaint"), [
    (b"{}", "not a SendGrid batch"),
    (b"not json", "not JSON"),
    (b"[1, 2]", "not a SendGrid batch"),
    (json.dumps([{"event": "open", "timestamp": 1}] * 1001).encode(), "1001 events"),
    (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
])
def test_a_verified_body_that_is_not_sendgrids_format_is_malformed(
    scheme: SendGridWebhook, private_key: ec.EllipticCurvePrivateKey,
    body: bytes, complaint: str,
) -> None:
    with pytest.raises(Malformed, match=complaint):
        scheme.receive(received(body, signed(private_key, body)), NOW)


def test_a_thousand_events_are_taken(
    scheme: SendGridWebhook, private_key: ec.EllipticCurvePrivateKey,
) -> None:
    body = batch(*[DOCUMENTED_EVENTS[2]] * 1000)

    assert len(scheme.receive(received(body, signed(private_key, body)), NOW)) == 1000


# -- settings and the sandbox ------------------------------------------------------------


def test_the_real_scheme_needs_the_public_key_setting(
    private_key: ec.EllipticCurvePrivateKey,
) -> None:
    assert sendgrid.real(Settings()) is None
    scheme = sendgrid.real(Settings(sendgrid_webhook_public_key=public_key_text(private_key)))
    assert scheme is not None
    body = batch(DOCUMENTED_EVENTS[2])
    assert scheme.receive(received(body, signed(private_key, body)), NOW)


def test_a_pem_key_is_taken_too(private_key: ec.EllipticCurvePrivateKey) -> None:
    pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()

    assert sendgrid.real(Settings(sendgrid_webhook_public_key=pem)) is not None


@pytest.mark.parametrize("value", [
    "not a key",
    base64.b64encode(b"garbage").decode(),
    public_key_text(ec.generate_private_key(ec.SECP384R1())),
])
def test_settings_refuse_a_key_that_is_no_p256_public_key(value: str) -> None:
    with pytest.raises(ValidationError, match="SENDGRID_WEBHOOK_PUBLIC_KEY is not") as raised:
        Settings(sendgrid_webhook_public_key=value)
    assert value not in str(raised.value)


def test_the_sandbox_signers_batch_is_accepted_and_yields_the_events_it_was_given() -> None:
    given = sandbox_events("LRzXl_NHStOGhQ4kofSm_A")
    signed_request = SIGNERS["sendgrid"](given, WEBHOOK_URL.format(provider="sendgrid"), NOW)

    events = WEBHOOKS["sendgrid"].sandbox().receive(from_signed(signed_request), NOW)

    assert [(e.type, e.bounce, e.email_id, e.message_id, e.recipient, e.at) for e in events] == [
        (g.type, g.bounce, g.email_id, g.message_id, g.recipient, g.at) for g in given
    ]
    assert events[1].detail == "bounce: 550 5.1.1 no such mailbox"
    assert len({event.event_id for event in events}) == 3
    assert signed_request.body.endswith(b"\r\n")


def test_the_sandbox_key_verifies_nothing_a_real_account_key_signed(
    private_key: ec.EllipticCurvePrivateKey,
) -> None:
    given = sandbox_events("LRzXl_NHStOGhQ4kofSm_A")
    from_sandbox = from_signed(SIGNERS["sendgrid"](given, "https://x/", NOW))
    body = batch(DOCUMENTED_EVENTS[2])

    with pytest.raises(Unverified):
        SendGridWebhook(private_key.public_key()).receive(from_sandbox, NOW)
    with pytest.raises(Unverified):
        sendgrid.sandbox().receive(received(body, signed(private_key, body)), NOW)
