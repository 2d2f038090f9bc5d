"""SNS's envelope, as SES's webhook receives it: the signature with keys and certificates made
here, the certificate URL's host, replays, subscription confirmations, and the production
fetch and confirmation over loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from micromailer.domain.events import EventType
from micromailer.webhooks import ses
from micromailer.webhooks.base import Malformed, Unverified, WebhookRequest
from micromailer.webhooks.sns import (
    MAX_CERTIFICATE_BYTES,
    aws_url,
    canonical_string,
    confirm_subscription,
    fetch_certificate,
)
from tests.support.sns import (
    CERT_URL,
    EMAIL_ID,
    MESSAGE_ID,
    NOW,
    SUBSCRIBE_URL,
    TOPIC,
    Confirmations,
    Signer,
    delivery,
    handmade_canonical,
    make_signer,
    notification,
    receiver,
    request,
    signed,
)


@pytest.fixture(scope="module")
def signer() -> Signer:
    """An RSA key and its certificate, issued by a CA made for this test."""
    return make_signer()


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


def test_a_null_subject_is_no_subject(signer: Any) -> None:
    scheme, _ = receiver(signer)
    body: dict[str, Any] = {**signed(notification(delivery()), signer[0]), "Subject": None}
    assert len(scheme.receive(request(body), NOW)) == 1


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

