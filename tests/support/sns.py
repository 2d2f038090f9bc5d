"""SNS messages made in the tests: an RSA key with its certificate (from a CA made for the
test), the canonical string written out by hand, and the fetcher and confirmer the webhook is
given."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

import trustme
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from micromailer.webhooks import ses
from micromailer.webhooks.base import Unverified, WebhookRequest
from micromailer.webhooks.sns import SnsReceiver

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-events"
SUBSCRIBE_URL = (
    "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"
    f"&TopicArn={TOPIC}&Token=2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92"
)
EMAIL_ID = "0b7b1c2e-5b5e-4a47-9b6c-2f1f3e3c4d5e"
MESSAGE_ID = "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"


Signer = tuple[rsa.RSAPrivateKey, bytes]


@cache
def make_signer() -> Signer:
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


def request(body: dict[str, Any], **headers: str) -> WebhookRequest:
    kind = {"x-amz-sns-message-type": body.get("Type", "")}
    return WebhookRequest("https://mm.example/webhooks/ses", {**kind, **headers},
                          json.dumps(body).encode())


def receiver(signer: Signer, *, topics: frozenset[str] = frozenset(),
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

