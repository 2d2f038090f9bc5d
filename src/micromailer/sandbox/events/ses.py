"""The fake SES's events: one SES event record in an SNS Notification, signed as SNS signs
(SignatureVersion 2, SHA256withRSA) with the sandbox's key, whose certificate
(:data:`~micromailer.webhooks.ses.SANDBOX_CERTIFICATE_URL`) the sandbox's scheme serves from
memory."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from functools import cache
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from micromailer.domain.events import BounceKind, EventType
from micromailer.sandbox.events import SandboxEvent, SignedRequest
from micromailer.sandbox.events.stamps import event_id, iso_millis, one_kind
from micromailer.webhooks.ses import SANDBOX_CERTIFICATE_URL, SANDBOX_TOPIC_ARN
from micromailer.webhooks.sns import HASHES, canonical_string

#: The key of the sandbox's SNS certificate. Public and sandbox-only: events signed with it
#: move only the sandbox's emails (webhooks/registry.py).
SANDBOX_PRIVATE_KEY_PEM = b"""\
-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDocTbSp9g6qHDG
Hb5ZV3/DZYA3MNTksUzg2REqltkBzAzI8X40ZOG6aHzzlbWaVmDXEJWM3A1d7H+B
s7STJt7vMXWPwe4iUGRYT/cYk3u4TikmRiYEUi8pVeh2woBzojT/4Q2uBTh/ogID
yZZD1wLxev/l1gJO0HgykpkF2PBSymJ0VkoTeOhk7Fyfx7rP4XWItTDVWUhYXCzu
6Z2bBbmZBv1Fu2QAaRD+i5okfLdRUplNbyc8Whp4QA4qnA78Y7rJDqt0xktIe8Yx
lfocIZHQsJOVl4rc44Zd7AaNThHTFhk7F2ka2tSqAPVaZZsbWCf5JocWTP6b8APt
1GxVkPJVAgMBAAECggEAFns36zRZDh6GfpLkrmCitppVkudbkx1KEaEzYnDukjIf
6aHgK/i2rSaeZAAB0+iXOy9oCq5Dck2FoFzQkgu7ZvUPD5Vl9XAP4UuMQZZzuKxO
mVx4ughDQxADbzqtEJukQ29X7F6mGHbp4CxNWhUsorOolmkv4sGRyCQBPhCKX4Dz
LNe3d3yZBlpV986V+ksjtXYuDiojUj5IuIyEGXyR5Kf/Szg0iQuikRWAIlXSC6sm
vjJQC9qJmbx9F077B1CB5+nQg1QdQENQJ2IE5FtDnksW4Hh3qNSA63A4+hshpfhQ
5lkia5J1HywdT1e1y4Z8niWIm7ZUvY99JimRgqtnjQKBgQD4jahAnvDIGvh9QqBu
Ta3Ka3TTMb0yFFXzdaSSf0NRQtjVN3vkaR0GGkJ/PbM9/Y8lrsk6J/ZkYRHY803w
dfBazNCD3o9CdwvKFfWM0OTFR4rtawnC4E84wYOeFtATbBv56M9yKuBH8KIzbgMV
iKvhrLwh9J9WZgo8KclgiUNA/wKBgQDvZ/0cdh7Sy59Jx3J15w18axEAsZFhff8L
iSHlcWb6rwE9UrFWGlsGmxnLYp3nmwoWvy6ah24IOkP5wfoG6S0oDlC7V7PAc+jb
ESzsf86+f68Yz8wgSS3+49sI/3MjszSubYJLH/S0tNyHYiuIX9iXDD/9cm5292iu
BVAIc9N4qwKBgQDa8OVRrvAIRIG4zPTG1RQOZ2NsGbc/otwnbex+wy2IKisYfhxb
EiBn3L/Ql4gJRg5PMky9NrB6sWroQUHZW/pR8XKHhoeJE5ZF99vpo6SxBpkhE5Vw
nOgL5aJLomq9gRCPrfz140DW/efTB8gdsts9GkxKWNH2aEIBxwlFSQP9/wKBgQCN
msiPyR46OM6i6SG+s0e6y+lmq6D+NXRh8l7mQ8lRhaoKB5t0/mnQ4nTDZDVaBM5W
3gZGyMxAeZYzaJTm+Y0IIE+IQDvGHckhqmsUCBTVgNikqGRoxGA8X7HzBIWqHBmR
Ap0KqoAnUsMOIPb21xpZXZmL49+K5pQ4OlQ4a6otuQKBgHjQiXTEF9k2pPKEgvwE
b+5f9u+3Oc6whJZpRXNdfL/VMp8thyXgbNpExjp8Y54XbPQRLe7MeU1I8e9TmUyp
Bhij1QCcDIPbv+HBUUNBsBtnA1L6iwdZocIA0j/GVP65rkm49c10LZDw6QLUlfQK
aPQ/r4nS1SyXOTQ0Xm0Ll0UD
-----END PRIVATE KEY-----
"""
#: What the fake's records name as their sender and account.
SANDBOX_SOURCE = "sandbox@micromailer.test"
SANDBOX_ACCOUNT = "000000000000"

#: Sandbox event → SES's event type (with its bounce type for a bounce).
EVENT_TYPES: dict[EventType, str] = {
    EventType.DELIVERED: "Delivery",
    EventType.BOUNCED: "Bounce",
    EventType.COMPLAINED: "Complaint",
    EventType.DEFERRED: "DeliveryDelay",
    EventType.DROPPED: "Reject",
    EventType.OPENED: "Open",
    EventType.CLICKED: "Click",
    EventType.UNSUBSCRIBED: "Subscription",
    EventType.UNKNOWN: "Send",
}


def signed_request(events: list[SandboxEvent], webhook_url: str, now: datetime
                   ) -> SignedRequest:
    """An SNS POST carrying ``events`` (one type, one message: SES publishes one record per
    notification) as SES's record, signed with the sandbox's key."""
    first = one_kind(events, "SES")
    record = ses_record(events)
    fields = {
        "Type": "Notification",
        "MessageId": str(uuid.UUID(event_id("ses", first))),
        "TopicArn": SANDBOX_TOPIC_ARN,
        "Message": json.dumps(record, separators=(",", ":")),
        "Timestamp": iso_millis(now),
    }
    body = sign(fields, sandbox_key(), SANDBOX_CERTIFICATE_URL)
    body["UnsubscribeURL"] = (
        "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
        f"{SANDBOX_TOPIC_ARN}:{fields['MessageId']}"
    )
    return SignedRequest(
        url=webhook_url,
        headers={
            "Content-Type": "text/plain; charset=UTF-8",
            "User-Agent": "Amazon Simple Notification Service Agent",
            "x-amz-sns-message-type": "Notification",
            "x-amz-sns-message-id": fields["MessageId"],
            "x-amz-sns-topic-arn": SANDBOX_TOPIC_ARN,
        },
        body=json.dumps(body).encode(),
    )


def sign(fields: dict[str, str], key: rsa.RSAPrivateKey, certificate_url: str,
         version: str = "2") -> dict[str, str]:
    """``fields`` with SNS's ``SignatureVersion``, ``Signature`` and ``SigningCertURL``: the
    canonical string signed with ``key`` (1: SHA1withRSA, 2: SHA256withRSA)."""
    algorithm = HASHES[version]()
    signature = key.sign(canonical_string(fields), padding.PKCS1v15(), algorithm)
    return {**fields, "SignatureVersion": version,
            "Signature": base64.b64encode(signature).decode("ascii"),
            "SigningCertURL": certificate_url}


@cache
def sandbox_key() -> rsa.RSAPrivateKey:
    """The sandbox's RSA key, loaded once."""
    key = serialization.load_pem_private_key(SANDBOX_PRIVATE_KEY_PEM, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("the sandbox's SNS key is not an RSA key")
    return key


def ses_record(events: list[SandboxEvent]) -> dict[str, Any]:
    """SES's event record of ``events`` (the format of ses/latest/dg/event-publishing-
    retrieving-sns-examples), its ``mail`` carrying the tags the adapter sends."""
    first = events[0]
    recipients = [event.recipient for event in events]
    when = iso_millis(first.at)
    name = EVENT_TYPES[first.type]
    record: dict[str, Any] = {
        "eventType": name,
        "mail": {
            "timestamp": when, "source": SANDBOX_SOURCE,
            "sourceArn": f"arn:aws:ses:us-east-1:{SANDBOX_ACCOUNT}:identity/micromailer.test",
            "sendingAccountId": SANDBOX_ACCOUNT, "messageId": first.message_id,
            "destination": recipients, "headersTruncated": False,
            "tags": {"email_id": [first.email_id],
                     "ses:configuration-set": ["micromailer-sandbox"]},
        },
    }
    if name == "Delivery":
        record["delivery"] = {"timestamp": when, "processingTimeMillis": 120,
                              "recipients": recipients,
                              "smtpResponse": first.detail or "250 2.0.0 OK",
                              "reportingMTA": "sandbox.micromailer.test"}
    elif name == "Bounce":
        hard = first.bounce is not BounceKind.SOFT
        record["bounce"] = {
            "bounceType": "Permanent" if hard else "Transient",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {"emailAddress": event.recipient, "action": "failed",
                 "status": "5.1.1" if hard else "4.2.2",
                 "diagnosticCode": event.detail or ("smtp; 550 5.1.1 user unknown" if hard
                                                    else "smtp; 452 4.2.2 mailbox full")}
                for event in events
            ],
            "timestamp": when, "feedbackId": f"{first.message_id}-bounce",
            "reportingMTA": "dsn; sandbox.micromailer.test",
        }
    elif name == "Complaint":
        record["complaint"] = {
            "complainedRecipients": [{"emailAddress": recipient} for recipient in recipients],
            "timestamp": when, "feedbackId": f"{first.message_id}-complaint",
            "complaintFeedbackType": "abuse", "userAgent": "micromailer sandbox",
        }
    elif name == "DeliveryDelay":
        record["deliveryDelay"] = {
            "timestamp": when, "delayType": "TransientCommunicationFailure",
            "delayedRecipients": [{"emailAddress": recipient, "status": "4.4.1",
                                   "diagnosticCode": first.detail or "smtp; 421 4.4.1 try later"}
                                  for recipient in recipients],
        }
    elif name == "Reject":
        record["reject"] = {"reason": first.detail or "Bad content"}
    elif name in ("Open", "Click"):
        record[name.lower()] = {"timestamp": when, "ipAddress": "192.0.2.1",
                                "userAgent": "micromailer sandbox"}
        if name == "Click":
            record["click"]["link"] = first.detail or "https://example.com/"
    elif name == "Subscription":
        record["subscription"] = {"contactList": "micromailer-sandbox", "timestamp": when,
                                  "source": "UnsubscribeHeader",
                                  "newTopicPreferences": {"unsubscribeAll": True}}
    else:
        record["send"] = {}
    return record


__all__ = [
    "EVENT_TYPES",
    "SANDBOX_PRIVATE_KEY_PEM",
    "sandbox_key",
    "ses_record",
    "sign",
    "signed_request",
]
