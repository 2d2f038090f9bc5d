"""SES's webhook: SES's records (its documented examples, every row of the mapping table,
the event types of its model), its settings, and the sandbox's round trip through SNS."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from micromailer.config import Settings
from micromailer.domain.events import BounceKind, EventType
from micromailer.sandbox.events import SIGNERS, SandboxEvent
from micromailer.webhooks import ses
from micromailer.webhooks.base import Malformed, Unverified, WebhookRequest
from micromailer.webhooks.registry import WebhookVerifiers
from tests.contract.helpers import load_spec
from tests.support.sns import (
    EMAIL_ID,
    MESSAGE_ID,
    NOW,
    TOPIC,
    Signer,
    delivery,
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

