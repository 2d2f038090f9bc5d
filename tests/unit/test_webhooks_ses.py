"""SES's webhook through SNS: the SNS signature with keys and certificates made here, the
certificate URL's host, replays, subscriptions, SES's records, and the sandbox's round trip."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from micromailer.config import Settings
from micromailer.domain.events import BounceKind, EventType
from micromailer.sandbox.events import SIGNERS, SandboxEvent
from micromailer.webhooks import ses
from micromailer.webhooks.base import Malformed, Unverified, WebhookRequest
from micromailer.webhooks.registry import WebhookVerifiers
from micromailer.webhooks.sns import (
    MAX_CERTIFICATE_BYTES,
    SnsReceiver,
    aws_url,
    canonical_string,
    confirm_subscription,
    fetch_certificate,
)
from tests.contract.helpers import load_spec

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-events"
SUBSCRIBE_URL = (
    "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"
    f"&TopicArn={TOPIC}&Token=2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92"
)
EMAIL_ID = "0b7b1c2e-5b5e-4a47-9b6c-2f1f3e3c4d5e"
MESSAGE_ID = "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"


# -- keys, certificates and signed messages made here ----------------------------------------


@pytest.fixture(scope="module")
def signer() -> tuple[rsa.RSAPrivateKey, bytes]:
    """An RSA key and its certificate, issued by a CA made for this test."""
    leaf = trustme.CA(key_type=trustme.KeyType.RSA).issue_cert(
        "sns.amazonaws.com", key_type=trustme.KeyType.RSA
    )
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key, leaf.cert_chain_pems[0].bytes()


class Certificates:
    """The fetcher: serves certificates by URL from memory and counts its fetches."""

    def __init__(self, served: dict[str, bytes]) -> None:
        self.served = served
        self.fetched: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.fetched.append(url)
        if url not in self.served:
            raise Unverified("no certificate there")
        return self.served[url]


class Confirmations:
    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, url: str) -> None:
        self.urls.append(url)


def handmade_canonical(fields: dict[str, str]) -> bytes:
    """SNS's string to sign, written out here as its documentation spells it."""
    if fields["Type"] == "Notification":
        names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    return "".join(f"{n}\n{fields[n]}\n" for n in names if n in fields).encode()


def signed(fields: dict[str, str], key: rsa.RSAPrivateKey, cert_url: str = CERT_URL,
           version: str = "2") -> dict[str, str]:
    algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()
    signature = key.sign(handmade_canonical(fields), padding.PKCS1v15(), algorithm)
    return {**fields, "SignatureVersion": version, "SigningCertURL": cert_url,
            "Signature": base64.b64encode(signature).decode()}


def notification(record: dict[str, Any] | str, *, at: datetime = NOW,
                 message_id: str = "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
                 topic: str = TOPIC, subject: str | None = None) -> dict[str, str]:
    fields = {
        "Type": "Notification", "MessageId": message_id, "TopicArn": topic,
        "Message": record if isinstance(record, str) else json.dumps(record),
        "Timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
    }
    if subject is not None:
        fields["Subject"] = subject
    return fields


def request(body: dict[str, str], **headers: str) -> WebhookRequest:
    kind = {"x-amz-sns-message-type": body.get("Type", "")}
    return WebhookRequest("https://mm.example/webhooks/ses", {**kind, **headers},
                          json.dumps(body).encode())


def receiver(signer: tuple[rsa.RSAPrivateKey, bytes], *, topics: frozenset[str] = frozenset(),
             confirm: Confirmations | None = None) -> tuple[ses.SesWebhook, Certificates]:
    certificates = Certificates({CERT_URL: signer[1]})
    scheme = ses.SesWebhook(SnsReceiver(fetch=certificates, confirm=confirm or Confirmations(),
                                        topics=topics))
    return scheme, certificates


def delivery(recipients: list[str] | None = None) -> dict[str, Any]:
    recipients = recipients or ["recipient@example.com"]
    return {
        "eventType": "Delivery",
        "mail": {"timestamp": "2026-03-01T11:59:58.000Z", "messageId": MESSAGE_ID,
                 "destination": recipients, "tags": {"email_id": [EMAIL_ID]}},
        "delivery": {"timestamp": "2026-03-01T11:59:59.500Z", "recipients": recipients,
                     "smtpResponse": "250 2.6.0 Message received"},
    }


# -- the signature ------------------------------------------------------------------------


def test_canonical_string_is_the_documented_one_with_subject_only_when_present() -> None:
    fields = notification("hi", subject="Amazon SES Email Event Notification")
    assert canonical_string(fields) == handmade_canonical(fields)
    assert b"Subject\nAmazon SES Email Event Notification\n" in canonical_string(fields)
    assert b"Subject" not in canonical_string(notification("hi"))


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_notification_signed_with_either_version_is_read(signer: Any, version: str) -> None:
    scheme, _ = receiver(signer)
    body = signed(notification(delivery()), signer[0], version=version)

    [event] = scheme.receive(request(body), NOW)

    assert event.type is EventType.DELIVERED
    assert (event.email_id, event.message_id, event.recipient) == (
        EMAIL_ID, MESSAGE_ID, "recipient@example.com")
    assert event.event_id == "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"
    assert event.at == datetime(2026, 3, 1, 11, 59, 59, 500000, tzinfo=UTC)
    assert event.detail == "Delivery: 250 2.6.0 Message received"
    assert event.raw == delivery()


def test_a_subject_is_part_of_what_is_signed(signer: Any) -> None:
    scheme, _ = receiver(signer)
    body = signed(notification(delivery(), subject="Hello"), signer[0])

    assert len(scheme.receive(request(body), NOW)) == 1
    with pytest.raises(Unverified, match="does not verify"):
        scheme.receive(request({**body, "Subject": "Changed"}), NOW)


def test_a_message_signed_with_another_key_is_refused(signer: Any) -> None:
    scheme, _ = receiver(signer)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    with pytest.raises(Unverified, match="does not verify"):
        scheme.receive(request(signed(notification(delivery()), other)), NOW)


@pytest.mark.parametrize("field", ["Message", "MessageId", "Timestamp", "TopicArn"])
def test_a_tampered_field_is_refused(signer: Any, field: str) -> None:
    scheme, _ = receiver(signer)
    body = signed(notification(delivery()), signer[0])
    body[field] = body[field].replace("2", "3", 1)

    with pytest.raises(Unverified):
        scheme.receive(request(body), NOW)


@pytest.mark.parametrize("url", [
    "http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-1.pem",
    "https://sns.us-east-1.amazonaws.com.evil.test/SimpleNotificationService-1.pem",
    "https://evil.test/SimpleNotificationService-1.pem",
    "https://sns.eu-west-1.amazonaws.com@evil.test/SimpleNotificationService-1.pem",
    "https://evil.test#@sns.eu-west-1.amazonaws.com/SimpleNotificationService-1.pem",
    "https://user@sns.eu-west-1.amazonaws.com/SimpleNotificationService-1.pem",
    "https://sns.eu-west-1.amazonaws.com:8443/SimpleNotificationService-1.pem",
    "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-1.txt",
    "https://sns.eu-west-1.amazonaws.com\\@evil.test/a.pem",
    "https://s3.amazonaws.com/SimpleNotificationService-1.pem",
    "https://sns.x.amazonaws.com/SimpleNotificationService-1.pem",
])
def test_a_certificate_outside_the_aws_pattern_is_refused_before_any_fetch(
    signer: Any, url: str
) -> None:
    scheme, certificates = receiver(signer)
    certificates.served[url] = signer[1]

    with pytest.raises(Unverified, match="SigningCertURL"):
        scheme.receive(request(signed(notification(delivery()), signer[0], cert_url=url)), NOW)
    assert certificates.fetched == []


@pytest.mark.parametrize("url", [
    CERT_URL,
    "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-1.pem",
    "https://SNS.US-EAST-1.AMAZONAWS.COM:443/SimpleNotificationService-1.pem",
])
def test_aws_certificate_urls_pass_the_pattern(url: str) -> None:
    assert aws_url(url, pem=True) is not None


def test_the_certificate_is_fetched_once_per_url(signer: Any) -> None:
    scheme, certificates = receiver(signer)
    for index in range(3):
        body = signed(notification(delivery(), message_id=f"id-{index}"), signer[0])
        scheme.receive(request(body), NOW)

    assert certificates.fetched == [CERT_URL]


def test_an_expired_certificate_or_one_without_an_rsa_key_is_refused(signer: Any) -> None:
    key = signer[0]
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    expired = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(7)
               .not_valid_before(NOW - timedelta(days=30)).not_valid_after(NOW - timedelta(days=1))
               .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    scheme, certificates = receiver(signer)
    certificates.served[CERT_URL] = expired
    with pytest.raises(Unverified, match="not valid now"):
        scheme.receive(request(signed(notification(delivery()), key)), NOW)

    ecdsa = trustme.CA().issue_cert("sns.amazonaws.com").cert_chain_pems[0].bytes()
    scheme, certificates = receiver(signer)
    certificates.served[CERT_URL] = ecdsa
    with pytest.raises(Unverified, match="not RSA"):
        scheme.receive(request(signed(notification(delivery()), key)), NOW)


@pytest.mark.parametrize("missing", ["Signature", "SignatureVersion", "SigningCertURL",
                                     "Message", "MessageId", "Timestamp", "TopicArn", "Type"])
def test_a_message_without_a_signed_field_is_refused(signer: Any, missing: str) -> None:
    scheme, _ = receiver(signer)
    body = signed(notification(delivery()), signer[0])
    del body[missing]

    with pytest.raises(Unverified):
        scheme.receive(request(body, **{"x-amz-sns-message-type": "Notification"}), NOW)


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b'"text"', b"\xff\xfe"])
def test_a_body_that_is_no_sns_message_is_unverified(signer: Any, body: bytes) -> None:
    scheme, _ = receiver(signer)
    with pytest.raises(Unverified):
        scheme.receive(WebhookRequest("https://mm.example/webhooks/ses", {}, body), NOW)


def test_an_unknown_signature_version_or_a_header_that_contradicts_the_type_is_refused(
    signer: Any,
) -> None:
    scheme, _ = receiver(signer)
    body = signed(notification(delivery()), signer[0])
    with pytest.raises(Unverified, match="SignatureVersion"):
        scheme.receive(request({**body, "SignatureVersion": "3"}), NOW)
    with pytest.raises(Unverified, match="x-amz-sns-message-type"):
        scheme.receive(request(body, **{"x-amz-sns-message-type": "SubscriptionConfirmation"}),
                       NOW)


# -- replays ----------------------------------------------------------------------------


def test_a_message_older_than_an_hour_is_a_replay(signer: Any) -> None:
    scheme, _ = receiver(signer)
    fresh = signed(notification(delivery(), at=NOW - timedelta(minutes=59)), signer[0])
    stale = signed(notification(delivery(), at=NOW - timedelta(minutes=61)), signer[0])
    future = signed(notification(delivery(), at=NOW + timedelta(minutes=6)), signer[0])

    assert len(scheme.receive(request(fresh), NOW)) == 1
    with pytest.raises(Unverified, match="more than an hour old"):
        scheme.receive(request(stale), NOW)
    with pytest.raises(Unverified, match="future"):
        scheme.receive(request(future), NOW)


def test_a_resent_message_keeps_its_event_id(signer: Any) -> None:
    scheme, _ = receiver(signer)
    body = signed(notification(delivery()), signer[0])

    first = scheme.receive(request(body), NOW)
    again = scheme.receive(request(body), NOW + timedelta(minutes=20))
    assert [e.event_id for e in first] == [e.event_id for e in again]


def test_only_the_configured_topic_is_taken(signer: Any) -> None:
    scheme, _ = receiver(signer, topics=frozenset({TOPIC}))
    other = signed(notification(delivery(), topic=TOPIC + "-other"), signer[0])

    with pytest.raises(Unverified, match="topic"):
        scheme.receive(request(other), NOW)
    assert len(scheme.receive(request(signed(notification(delivery()), signer[0])), NOW)) == 1


# -- subscriptions ------------------------------------------------------------------------


def confirmation(kind: str = "SubscriptionConfirmation", url: str = SUBSCRIBE_URL
                 ) -> dict[str, str]:
    return {
        "Type": kind, "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92",
        "TopicArn": TOPIC, "SubscribeURL": url,
        "Message": f"You have chosen to subscribe to the topic {TOPIC}.\nTo confirm the "
                   "subscription, visit the SubscribeURL included in this message.",
        "Timestamp": "2026-03-01T11:59:00.000Z",
    }


def test_a_subscription_to_the_configured_topic_is_confirmed(signer: Any) -> None:
    confirm = Confirmations()
    scheme, _ = receiver(signer, topics=frozenset({TOPIC}), confirm=confirm)

    assert scheme.receive(request(signed(confirmation(), signer[0])), NOW) == []
    assert confirm.urls == [SUBSCRIBE_URL]


@pytest.mark.parametrize("url", [
    "https://evil.test/?Action=ConfirmSubscription",
    "http://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription",
    "https://sns.eu-west-1.amazonaws.com.evil.test/?Action=ConfirmSubscription",
])
def test_a_subscribe_url_outside_aws_is_refused_and_not_visited(signer: Any, url: str) -> None:
    confirm = Confirmations()
    scheme, _ = receiver(signer, topics=frozenset({TOPIC}), confirm=confirm)

    with pytest.raises(Unverified, match="SubscribeURL"):
        scheme.receive(request(signed(confirmation(url=url), signer[0])), NOW)
    assert confirm.urls == []


def test_without_a_configured_topic_a_subscription_is_left_to_the_operator(
    signer: Any, caplog: pytest.LogCaptureFixture
) -> None:
    confirm = Confirmations()
    scheme, _ = receiver(signer, confirm=confirm)

    assert scheme.receive(request(signed(confirmation(), signer[0])), NOW) == []
    assert confirm.urls == []
    assert "MICROMAILER_SES_SNS_TOPIC_ARN" in caplog.text


def test_a_forged_confirmation_is_not_visited(signer: Any) -> None:
    confirm = Confirmations()
    scheme, _ = receiver(signer, topics=frozenset({TOPIC}), confirm=confirm)
    body = signed(confirmation(), signer[0])

    with pytest.raises(Unverified):
        scheme.receive(request({**body, "Token": "other"}), NOW)
    assert confirm.urls == []


def test_an_unsubscribe_confirmation_and_ses_topic_check_give_no_event(signer: Any) -> None:
    confirm = Confirmations()
    scheme, _ = receiver(signer, topics=frozenset({TOPIC}), confirm=confirm)

    unsubscribed = signed(confirmation("UnsubscribeConfirmation"), signer[0])
    assert scheme.receive(request(unsubscribed), NOW) == []
    assert confirm.urls == []
    checked = signed(notification(ses.TOPIC_VALIDATED), signer[0])
    assert scheme.receive(request(checked), NOW) == []


def test_a_notification_that_is_no_ses_record_is_malformed(signer: Any) -> None:
    scheme, _ = receiver(signer)
    for message in ("hello from the console", "[1, 2]"):
        with pytest.raises(Malformed, match="SES event record"):
            scheme.receive(request(signed(notification(message), signer[0])), NOW)


# -- SES's records ------------------------------------------------------------------------

#: SES's example records (doc: ses/latest/dg/event-publishing-retrieving-sns-examples, and
#: the older notification-examples), shortened to the fields read, with the ``email_id`` tag
#: micromailer's adapter sends.
MAIL = {
    "timestamp": "2017-08-05T00:40:02.012Z", "source": "Sender Name <sender@example.com>",
    "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",
    "sendingAccountId": "123456789012", "messageId": MESSAGE_ID,
    "destination": ["recipient@example.com"], "headersTruncated": False,
    "tags": {"ses:configuration-set": ["ConfigSet"], "ses:source-ip": ["192.0.2.0"],
             "ses:from-domain": ["example.com"], "email_id": [EMAIL_ID]},
}
EXAMPLES: list[tuple[dict[str, Any], EventType, BounceKind | None, str, str | None]] = [
    ({"eventType": "Bounce", "mail": MAIL, "bounce": {
        "bounceType": "Permanent", "bounceSubType": "General",
        "bouncedRecipients": [{"emailAddress": "recipient@example.com", "action": "failed",
                               "status": "5.1.1",
                               "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
        "timestamp": "2017-08-05T00:41:02.669Z",
        "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
        "reportingMTA": "dsn; mta.example.com"}},
     EventType.BOUNCED, BounceKind.HARD, "2017-08-05T00:41:02.669Z",
     "Bounce (Permanent, General): smtp; 550 5.1.1 user unknown"),
    ({"eventType": "Complaint", "mail": MAIL, "complaint": {
        "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
        "complaintSubType": None,
        "complainedRecipients": [{"emailAddress": "recipient@example.com"}],
        "timestamp": "2017-08-05T00:41:02.669Z", "userAgent": "Mozilla/5.0",
        "complaintFeedbackType": "abuse", "arrivalDate": "2017-08-05T00:41:02.669Z"}},
     EventType.COMPLAINED, None, "2017-08-05T00:41:02.669Z", "Complaint: abuse"),
    ({"eventType": "Delivery", "mail": MAIL, "delivery": {
        "timestamp": "2016-10-19T23:21:04.133Z", "processingTimeMillis": 11893,
        "recipients": ["recipient@example.com"],
        "smtpResponse": "250 2.6.0 Message received", "reportingMTA": "mta.example.com"}},
     EventType.DELIVERED, None, "2016-10-19T23:21:04.133Z",
     "Delivery: 250 2.6.0 Message received"),
    ({"eventType": "Send", "mail": MAIL, "send": {}},
     EventType.UNKNOWN, None, "2017-08-05T00:40:02.012Z", "Send"),
    ({"eventType": "Reject", "mail": MAIL, "reject": {"reason": "Bad content"}},
     EventType.DROPPED, None, "2017-08-05T00:40:02.012Z", "Reject: Bad content"),
    ({"eventType": "Open", "mail": MAIL, "open": {
        "ipAddress": "192.0.2.1", "timestamp": "2017-08-09T22:00:19.652Z",
        "userAgent": "Mozilla/5.0 (iPhone)"}},
     EventType.OPENED, None, "2017-08-09T22:00:19.652Z", "Open"),
    ({"eventType": "Click", "mail": MAIL, "click": {
        "ipAddress": "192.0.2.1", "link": "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/",
        "linkTags": {"samplekey0": ["samplevalue0"]}, "timestamp": "2017-08-09T23:51:25.570Z",
        "userAgent": "Mozilla/5.0"}},
     EventType.CLICKED, None, "2017-08-09T23:51:25.570Z",
     "Click: http://docs.aws.amazon.com/ses/latest/DeveloperGuide/"),
    ({"eventType": "Rendering Failure", "mail": MAIL, "failure": {
        "errorMessage": "Attribute 'attributeName' is not present in the rendering data.",
        "templateName": "MyTemplate"}},
     EventType.DROPPED, None, "2017-08-05T00:40:02.012Z",
     "Rendering Failure: Attribute 'attributeName' is not present in the rendering data."),
    ({"eventType": "DeliveryDelay", "mail": MAIL, "deliveryDelay": {
        "timestamp": "2020-06-16T00:15:40.641Z", "delayType": "InternalFailure",
        "expirationTime": "2020-06-16T00:25:40.914Z",
        "delayedRecipients": [{"emailAddress": "recipient@example.com", "status": "4.4.1",
                               "diagnosticCode": "smtp; 421 4.4.1 Unable to connect"}]}},
     EventType.DEFERRED, None, "2020-06-16T00:15:40.641Z",
     "DeliveryDelay: smtp; 421 4.4.1 Unable to connect"),
    ({"eventType": "Subscription", "mail": MAIL, "subscription": {
        "contactList": "ContactListName", "timestamp": "2022-01-12T01:00:17.910Z",
        "source": "UnsubscribeHeader",
        "newTopicPreferences": {"unsubscribeAll": True, "topicSubscriptionStatus": [
            {"topicName": "ExampleTopicName", "subscriptionStatus": "OptOut"}]}}},
     EventType.UNSUBSCRIBED, None, "2022-01-12T01:00:17.910Z", "Subscription: UnsubscribeHeader"),
    # The older identity notifications: notificationType, no tags.
    ({"notificationType": "Bounce", "mail": {**MAIL, "tags": None}, "bounce": {
        "bounceType": "Transient", "bounceSubType": "MailboxFull",
        "bouncedRecipients": [{"emailAddress": "recipient@example.com"}],
        "timestamp": "2016-01-27T14:59:38.237Z"}},
     EventType.BOUNCED, BounceKind.SOFT, "2016-01-27T14:59:38.237Z",
     "Bounce (Transient, MailboxFull)"),
]


@pytest.mark.parametrize(("record", "kind", "bounce", "at", "detail"), EXAMPLES,
                         ids=[example[0].get("eventType") or "legacy" for example in EXAMPLES])
def test_ses_example_records_become_their_events(
    signer: Any, record: dict[str, Any], kind: EventType, bounce: BounceKind | None, at: str,
    detail: str,
) -> None:
    scheme, _ = receiver(signer)
    [event] = scheme.receive(request(signed(notification(record), signer[0])), NOW)

    assert (event.type, event.bounce, event.detail) == (kind, bounce, detail)
    assert event.at == datetime.fromisoformat(at)
    assert event.message_id == MESSAGE_ID
    assert event.recipient == "recipient@example.com"
    assert event.email_id == (None if record.get("notificationType") else EMAIL_ID)
    assert event.provider == "ses" and event.raw == record


def test_a_record_about_several_recipients_gives_one_event_each(signer: Any) -> None:
    scheme, _ = receiver(signer)
    record = {"eventType": "Bounce", "mail": {**MAIL, "destination": ["a@x.test", "b@x.test",
                                                                       "c@x.test"]},
              "bounce": {"bounceType": "Permanent", "bounceSubType": "NoEmail",
                         "bouncedRecipients": [{"emailAddress": "a@x.test"},
                                               {"emailAddress": "b@x.test"}]}}
    events = scheme.receive(request(signed(notification(record), signer[0])), NOW)

    assert [e.recipient for e in events] == ["a@x.test", "b@x.test"]
    assert len({e.event_id for e in events}) == 2
    assert all(e.suppresses for e in events)


def test_more_than_a_thousand_recipients_is_malformed(signer: Any) -> None:
    scheme, _ = receiver(signer)
    many = [f"r{n}@x.test" for n in range(1001)]
    with pytest.raises(Malformed, match="1001 recipients"):
        scheme.receive(request(signed(notification(delivery(many)), signer[0])), NOW)


def record_for(key: str) -> dict[str, Any]:
    """A minimal SES record that the row ``key`` of ``EVENTS`` describes."""
    name, _, rest = key.partition("/")
    kind, _, sub = rest.partition("/")
    record: dict[str, Any] = {"eventType": name, "mail": MAIL}
    if name == "Bounce":
        record["bounce"] = {"bounceType": kind or None, "bounceSubType": sub or "General",
                            "bouncedRecipients": [{"emailAddress": "recipient@example.com"}]}
    return record


@pytest.mark.parametrize(("key", "expected"), sorted(ses.EVENTS.items()))
def test_every_row_of_the_mapping_table(
    signer: Any, key: str, expected: tuple[EventType, BounceKind | None]
) -> None:
    scheme, _ = receiver(signer)
    [event] = scheme.receive(request(signed(notification(record_for(key)), signer[0])), NOW)
    assert (event.type, event.bounce) == expected


def test_an_unlisted_event_type_is_unknown(signer: Any) -> None:
    scheme, _ = receiver(signer)
    [event] = scheme.receive(request(signed(notification({"eventType": "Teleport",
                                                          "mail": MAIL}), signer[0])), NOW)
    assert event.type is EventType.UNKNOWN and event.detail == "Teleport"


def test_every_event_type_of_the_ses_model_has_a_row() -> None:
    """service-2.json's ``EventType`` (SEND, RENDERING_FAILURE…) as the records name them."""
    names = load_spec("ses/service-2.json")["shapes"]["EventType"]["enum"]
    as_recorded = {"RENDERING_FAILURE": "Rendering Failure", "DELIVERY_DELAY": "DeliveryDelay"}
    for name in names:
        recorded = as_recorded.get(name, name.title())
        assert recorded in ses.EVENTS, name


# -- settings, the registry and the sandbox -----------------------------------------------


def test_ses_webhook_is_on_with_the_ses_provider_or_a_topic() -> None:
    assert ses.real(Settings(_env_file=None)) is None  # type: ignore[call-arg]
    assert ses.real(Settings(_env_file=None, ses_sns_topic_arn="")) is None  # type: ignore[call-arg]
    assert ses.real(Settings(_env_file=None, ses_region="eu-west-1")) is not None  # type: ignore[call-arg]
    topics = Settings(_env_file=None, ses_sns_topic_arn=f" {TOPIC}, {TOPIC}-2 ")  # type: ignore[call-arg]
    assert ses.real(topics) is not None
    assert ses.topics(topics) == {TOPIC, f"{TOPIC}-2"}


def sandbox_events() -> list[SandboxEvent]:
    at = datetime(2026, 3, 1, 11, 59, 30, 250000, tzinfo=UTC)
    return [
        SandboxEvent(EventType.DELIVERED, EMAIL_ID, "0100018e-sandbox-000000", "bob@example.com",
                     at),
        SandboxEvent(EventType.BOUNCED, EMAIL_ID, "0100018e-sandbox-000000",
                     "bounce@simulator.micromailer.test", at, bounce=BounceKind.HARD),
        SandboxEvent(EventType.COMPLAINED, EMAIL_ID, "0100018e-sandbox-000000",
                     "complain@simulator.micromailer.test", at),
        SandboxEvent(EventType.BOUNCED, EMAIL_ID, "0100018e-sandbox-000000", "soft@x.test", at,
                     bounce=BounceKind.SOFT, detail="smtp; 452 4.2.2 mailbox full"),
        SandboxEvent(EventType.DEFERRED, EMAIL_ID, "m", "d@x.test", at),
        SandboxEvent(EventType.DROPPED, EMAIL_ID, "m", "d@x.test", at),
        SandboxEvent(EventType.OPENED, EMAIL_ID, "m", "d@x.test", at),
        SandboxEvent(EventType.CLICKED, EMAIL_ID, "m", "d@x.test", at, detail="https://e.test/"),
        SandboxEvent(EventType.UNSUBSCRIBED, EMAIL_ID, "m", "d@x.test", at),
    ]


def as_webhook_request(signed_request: Any) -> WebhookRequest:
    headers = {name.lower(): value for name, value in signed_request.headers.items()}
    return WebhookRequest(signed_request.url, headers, signed_request.body)


@pytest.mark.parametrize("given", sandbox_events(), ids=lambda e: f"{e.type}-{e.bounce}")
def test_the_sandbox_signers_request_is_read_back_by_the_sandbox_scheme(
    given: SandboxEvent,
) -> None:
    sent = SIGNERS["ses"]([given], "http://127.0.0.1:8000/webhooks/ses", NOW)
    [event] = ses.sandbox().receive(as_webhook_request(sent), NOW)

    assert (event.type, event.bounce, event.email_id, event.message_id, event.recipient,
            event.at) == (given.type, given.bounce, given.email_id, given.message_id,
                          given.recipient, given.at)
    if given.detail:
        assert event.detail is not None and given.detail in event.detail


def test_sandbox_requests_are_refused_by_the_real_scheme_without_a_fetch() -> None:
    given = sandbox_events()[1]
    sent = as_webhook_request(SIGNERS["ses"]([given], "http://mm/webhooks/ses", NOW))
    real = ses.real(Settings(_env_file=None, ses_region="eu-west-1"))  # type: ignore[call-arg]
    assert real is not None

    with pytest.raises(Unverified, match="sandbox"):
        real.receive(sent, NOW)
    verifiers = WebhookVerifiers(Settings(_env_file=None, ses_region="eu-west-1"))  # type: ignore[call-arg]
    received = verifiers.receive("ses", sent, NOW)
    assert received.sandbox and received.events[0].type is EventType.BOUNCED


def test_the_sandbox_signs_one_kind_of_event_a_notification() -> None:
    delivered, bounced = sandbox_events()[:2]
    with pytest.raises(ValueError, match="one event"):
        SIGNERS["ses"]([delivered, bounced], "http://mm/webhooks/ses", NOW)


# -- the production fetch and confirmation, over loopback -----------------------------------


class _Handler(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, bytes]]] = {}

    def do_GET(self) -> None:
        status, body = self.routes.get(self.path, (404, b"no"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def loopback() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_production_fetch_is_bounded_and_says_why_it_failed(
    signer: Any, loopback: str
) -> None:
    _Handler.routes = {"/cert.pem": (200, signer[1]),
                       "/huge.pem": (200, b"x" * (MAX_CERTIFICATE_BYTES + 1)),
                       "/confirm": (200, b"<ConfirmSubscriptionResponse/>")}

    assert fetch_certificate(f"{loopback}/cert.pem") == signer[1]
    with pytest.raises(Unverified, match="too large"):
        fetch_certificate(f"{loopback}/huge.pem")
    with pytest.raises(Unverified, match="answered 404"):
        fetch_certificate(f"{loopback}/missing.pem")
    confirm_subscription(f"{loopback}/confirm")
    with pytest.raises(Malformed, match="SNS console"):
        confirm_subscription(f"{loopback}/missing")
