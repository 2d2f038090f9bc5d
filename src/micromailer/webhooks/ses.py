"""Amazon SES's events, published by a configuration set to an SNS topic that posts to
``POST /webhooks/ses`` (doc: ses/latest/dg/event-publishing-retrieving-sns-contents).

SNS's envelope is checked by :mod:`micromailer.webhooks.sns`; each Notification carries one SES
record (``eventType``, or ``notificationType`` in the older format of identity notifications),
which becomes one event per recipient it names. Types through :data:`EVENTS`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from micromailer.config import Settings
from micromailer.domain.events import BounceKind, EventType, ProviderEvent
from micromailer.webhooks.base import Malformed, Unverified, WebhookRequest
from micromailer.webhooks.records import bounded, detail, event_key, instant, mapping, text
from micromailer.webhooks.sns import (
    SnsMessage,
    SnsReceiver,
    confirm_subscription,
    fetch_certificate,
)

PROVIDER = "ses"

#: SES's event → micromailer's type and, for a bounce, its kind. A bounce is looked up as
#: ``Bounce/<bounceType>/<bounceSubType>``, then ``Bounce/<bounceType>``, then ``Bounce``.
#: Every event type of the configuration set (``EventType`` in service-2.json) and of the
#: older identity notifications; any other → ``unknown``.
EVENTS: dict[str, tuple[EventType, BounceKind | None]] = {
    # SES accepted the request and will try to deliver: the email is `sent` already.
    "Send": (EventType.UNKNOWN, None),
    "Delivery": (EventType.DELIVERED, None),
    "Bounce/Permanent": (EventType.BOUNCED, BounceKind.HARD),
    "Bounce/Transient": (EventType.BOUNCED, BounceKind.SOFT),
    "Bounce/Undetermined": (EventType.BOUNCED, BounceKind.SOFT),
    "Bounce": (EventType.BOUNCED, BounceKind.SOFT),
    # SES did not send to an address on its suppression lists (it bounced or complained before).
    "Bounce/Permanent/Suppressed": (EventType.DROPPED, None),
    "Bounce/Permanent/OnAccountSuppressionList": (EventType.DROPPED, None),
    "Complaint": (EventType.COMPLAINED, None),
    # SES refused the message (a virus): nothing was sent.
    "Reject": (EventType.DROPPED, None),
    "Rendering Failure": (EventType.DROPPED, None),
    "DeliveryDelay": (EventType.DEFERRED, None),
    "Open": (EventType.OPENED, None),
    "Click": (EventType.CLICKED, None),
    # The recipient changed their subscription (list management), e.g. unsubscribed.
    "Subscription": (EventType.UNSUBSCRIBED, None),
}

#: SES's event → the field of the record that holds its details.
DETAIL_FIELDS: dict[str, str] = {
    "Send": "send", "Delivery": "delivery", "Bounce": "bounce", "Complaint": "complaint",
    "Reject": "reject", "Rendering Failure": "failure", "DeliveryDelay": "deliveryDelay",
    "Open": "open", "Click": "click", "Subscription": "subscription",
}

#: The events that happen as SES sends, whose record has no time but the message's.
AT_SENDING = frozenset({"Send", "Reject", "Rendering Failure"})

#: The text SNS publishes once when SES is given the topic: no event.
TOPIC_VALIDATED = "Successfully validated SNS topic for Amazon SES event publishing."

#: The sandbox's SNS signing certificate (``micromailer.sandbox.events.ses`` holds its key). It
#: is public and sandbox-only: events it verifies move only the sandbox's emails.
SANDBOX_CERTIFICATE_URL = (
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-micromailer-sandbox.pem"
)
SANDBOX_TOPIC_ARN = "arn:aws:sns:us-east-1:000000000000:micromailer-sandbox-ses-events"
SANDBOX_CERTIFICATE_PEM = b"""\
-----BEGIN CERTIFICATE-----
MIIDNzCCAh+gAwIBAgIBATANBgkqhkiG9w0BAQsFADBeMRwwGgYDVQQKDBNtaWNy
b21haWxlciBzYW5kYm94MT4wPAYDVQQDDDVtaWNyb21haWxlciBzYW5kYm94IFNO
UyBzaWduZXIgKHB1YmxpYywgc2FuZGJveCBvbmx5KTAgFw0yNTAxMDEwMDAwMDBa
GA8yMTI1MDEwMTAwMDAwMFowXjEcMBoGA1UECgwTbWljcm9tYWlsZXIgc2FuZGJv
eDE+MDwGA1UEAww1bWljcm9tYWlsZXIgc2FuZGJveCBTTlMgc2lnbmVyIChwdWJs
aWMsIHNhbmRib3ggb25seSkwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIB
AQDocTbSp9g6qHDGHb5ZV3/DZYA3MNTksUzg2REqltkBzAzI8X40ZOG6aHzzlbWa
VmDXEJWM3A1d7H+Bs7STJt7vMXWPwe4iUGRYT/cYk3u4TikmRiYEUi8pVeh2woBz
ojT/4Q2uBTh/ogIDyZZD1wLxev/l1gJO0HgykpkF2PBSymJ0VkoTeOhk7Fyfx7rP
4XWItTDVWUhYXCzu6Z2bBbmZBv1Fu2QAaRD+i5okfLdRUplNbyc8Whp4QA4qnA78
Y7rJDqt0xktIe8YxlfocIZHQsJOVl4rc44Zd7AaNThHTFhk7F2ka2tSqAPVaZZsb
WCf5JocWTP6b8APt1GxVkPJVAgMBAAEwDQYJKoZIhvcNAQELBQADggEBAHdVykPn
1QY6R0JjZNY8LsN7aVpbH9oRGZF02WGVBxfay//ccm+KOmI/mnUyMPXj1/U5S0b2
QTD0/xtCHxJszbQflnjB9PIDEqFDEUFVA7w3SVrfwJFsvFnN3ZCI152sXxHlhdJP
xQ0nUf7byrHXmAmomIQeZC09tBz0eOoGN0aCHWeFQ1RVrA971MMAWP1PZIj1Rtfs
Z9OfAdB6Iq96/ENrbXc0gjfYrATCs7tgA+c5uZq3RfScPj3vNgaZdapMQdmeoNvV
WKWXJHfniFSV00AB+dRmF2X8tQUDiscH8TVlckWfhOT0dR8/tGsjgw7Fw8U0tIbF
Uu/RNCzbsjDzPao=
-----END CERTIFICATE-----
"""


class SesWebhook:
    """SES's events through SNS: the SNS signature, then the SES record."""

    provider = PROVIDER

    def __init__(self, sns: SnsReceiver) -> None:
        self._sns = sns

    def receive(self, request: WebhookRequest, now: datetime) -> list[ProviderEvent]:
        message = self._sns.receive(request, now)
        return [] if message is None else events_of(message)


def events_of(message: SnsMessage) -> list[ProviderEvent]:
    """The events of a Notification's SES record; none for SES's topic check."""
    if message.message.strip() == TOPIC_VALIDATED:
        return []
    try:
        record = json.loads(message.message)
    except ValueError:
        raise Malformed("the SNS message is not an SES event record (JSON)") from None
    if not isinstance(record, dict):
        raise Malformed("the SNS message is not an SES event record (a JSON object)")
    name = text(record.get("eventType")) or text(record.get("notificationType")) or "unknown"
    details = mapping(record.get(DETAIL_FIELDS.get(name, "")))
    mail = mapping(record.get("mail"))
    kind, bounce = EVENTS.get(_key(name, details), (EventType.UNKNOWN, None))
    at = (instant(details.get("timestamp"))
          or (instant(mail.get("timestamp")) if name in AT_SENDING else None)
          or message.timestamp)
    recipients = _recipients(name, details, mail)
    return [
        ProviderEvent(
            provider=PROVIDER,
            type=kind,
            at=at,
            event_id=event_key(message.message_id, recipient if len(recipients) > 1 else None),
            email_id=_tag(mail, "email_id"),
            message_id=text(mail.get("messageId")),
            recipient=recipient,
            bounce=bounce,
            detail=detail(_name(name, details), reason),
            raw=record,
        )
        for recipient, reason in recipients
    ]


def _key(name: str, details: Mapping[str, Any]) -> str:
    """The most specific row of :data:`EVENTS` for this record (``name`` when none is)."""
    if name != "Bounce":
        return name
    kind, sub = details.get("bounceType"), details.get("bounceSubType")
    return next(key for key in (f"Bounce/{kind}/{sub}", f"Bounce/{kind}", "Bounce")
                if key in EVENTS)


def _name(name: str, details: Mapping[str, Any]) -> str:
    if name == "Bounce":
        return f"Bounce ({details.get('bounceType')}, {details.get('bounceSubType')})"
    return name


def _recipients(
    name: str, details: Mapping[str, Any], mail: Mapping[str, Any]
) -> list[tuple[str | None, str | None]]:
    """``(recipient, its reason)`` for each recipient the record is about; one pair without a
    recipient when it names none, or the message's whole destination."""
    listed: list[Any] = []
    if name == "Bounce":
        listed = _list(details.get("bouncedRecipients"))
    elif name == "Complaint":
        listed = _list(details.get("complainedRecipients"))
    elif name == "DeliveryDelay":
        listed = _list(details.get("delayedRecipients"))
    elif name == "Delivery":
        listed = [{"emailAddress": address} for address in _list(details.get("recipients"))]
    pairs = [
        (text(entry.get("emailAddress")), _reason(name, details, entry))
        for entry in listed if isinstance(entry, Mapping)
    ]
    if pairs:
        return pairs
    destination = [address for address in _list(mail.get("destination"))
                   if isinstance(address, str)]
    only = destination[0] if len(destination) == 1 else None
    return [(only, _reason(name, details, {}))]


def _reason(name: str, details: Mapping[str, Any], entry: Mapping[str, Any]) -> str | None:
    """What the record says about one recipient: a diagnostic, the link, the reason…"""
    reasons = {
        "Bounce": entry.get("diagnosticCode"),
        "Complaint": details.get("complaintFeedbackType") or details.get("complaintSubType"),
        "Delivery": details.get("smtpResponse"),
        "DeliveryDelay": entry.get("diagnosticCode") or details.get("delayType"),
        "Reject": details.get("reason"),
        "Rendering Failure": details.get("errorMessage"),
        "Click": details.get("link"),
        "Subscription": details.get("source"),
    }
    return text(reasons.get(name))


def _list(value: Any) -> list[Any]:
    return list(bounded(value, "recipients")) if isinstance(value, list) else []


def _tag(mail: Mapping[str, Any], name: str) -> str | None:
    """The first value of one of the message's ``EmailTags``, as SES publishes them."""
    values = mapping(mail.get("tags")).get(name)
    if isinstance(values, list) and values:
        return text(values[0])
    return text(values)


def topics(settings: Settings) -> frozenset[str]:
    """The SNS topics allowed by ``MICROMAILER_SES_SNS_TOPIC_ARN`` (comma-separated)."""
    value = settings.ses_sns_topic_arn or ""
    return frozenset(part.strip() for part in value.split(",") if part.strip())


def real(settings: Settings) -> SesWebhook | None:
    """SES's webhook, on when SES sends or a topic is set (SNS needs no shared secret)."""
    allowed = topics(settings)
    if not settings.ses_region and not allowed:
        return None
    return SesWebhook(SnsReceiver(
        fetch=fetch_certificate, confirm=confirm_subscription, topics=allowed,
        refused_certificates=frozenset({SANDBOX_CERTIFICATE_URL}),
    ))


def sandbox() -> SesWebhook:
    """SES's webhook for the sandbox's events: its certificate, served from memory."""
    return SesWebhook(SnsReceiver(
        fetch=_sandbox_certificate, confirm=_confirm_nothing,
        topics=frozenset({SANDBOX_TOPIC_ARN}),
    ))


def _sandbox_certificate(url: str) -> bytes:
    if url != SANDBOX_CERTIFICATE_URL:
        raise Unverified("the sandbox signs only with its own certificate")
    return SANDBOX_CERTIFICATE_PEM


def _confirm_nothing(url: str) -> None:
    """The sandbox's topic needs no confirmation."""


__all__ = [
    "AT_SENDING",
    "DETAIL_FIELDS",
    "EVENTS",
    "PROVIDER",
    "SANDBOX_CERTIFICATE_PEM",
    "SANDBOX_CERTIFICATE_URL",
    "SANDBOX_TOPIC_ARN",
    "TOPIC_VALIDATED",
    "SesWebhook",
    "events_of",
    "real",
    "sandbox",
    "topics",
]
