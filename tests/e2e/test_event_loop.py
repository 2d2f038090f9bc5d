"""End to end: ``micromailer run`` in sandbox mode, where each fake sends its provider's signed
events back to ``POST /webhooks/{provider}`` as the real provider would: the whole life of an
email with no account anywhere. ``delivered@`` is delivered, ``bounce@`` bounces hard (and is
suppressed), ``complain@`` is delivered then marked as spam."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from standardwebhooks import Webhook

from micromailer.sandbox.events import SIGNERS
from tests.support.receiver import CallbackReceiver
from tests.support.service import EmbeddedService

pytestmark = pytest.mark.e2e

#: Every provider whose fake sends events (SMTP has no webhook).
WITH_EVENTS = sorted(SIGNERS)
DOMAIN = "simulator.micromailer.test"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedService]:
    running = EmbeddedService(
        tmp_path_factory.mktemp("event-loop"), MICROMAILER_PROVIDERS=",".join(WITH_EVENTS),
        MICROMAILER_STRATEGY="original", MICROMAILER_SANDBOX_EVENTS_DELAY="0.3",
        MICROMAILER_CALLBACK_ALLOW_PRIVATE="true",
        # Mailgun refuses a sender at `localhost`, the default's domain
        MICROMAILER_SENDER_EMAIL="no-reply@example.org",
    ).start()
    try:
        yield running
    finally:
        running.stop()


def until_status(service: EmbeddedService, email_id: str, status: str,
                 timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = service.email(email_id)
        if body["status"] == status:
            return body
        assert time.monotonic() < deadline, f"still {body['status']}: {body}"
        time.sleep(0.2)


def through(service: EmbeddedService, provider: str, to: str) -> str:
    """Send to ``to`` through ``provider`` alone (every other fake in outage)."""
    for name in WITH_EVENTS:
        service.set_faults(name, **({} if name == provider else {"failRate": 1.0}))
    answer = service.post_json(to=to, subject=f"loop via {provider}", content="hello",
                               ignore_suppressions=True)
    assert answer.status_code == 202, answer.text
    email_id: str = answer.json()["emailId"]
    return email_id


@pytest.mark.parametrize("provider", WITH_EVENTS)
def test_each_fake_reports_delivery_bounce_and_complaint_signed_as_its_provider(
    service: EmbeddedService, provider: str,
) -> None:
    delivered = through(service, provider, f"delivered@{DOMAIN}")
    bounced = through(service, provider, f"bounce@{DOMAIN}")
    complained = through(service, provider, f"complain@{DOMAIN}")

    body = until_status(service, delivered, "delivered")
    assert body["provider"] == provider
    assert [(e["type"], e["provider"]) for e in body["events"]] == [("delivered", provider)]
    body = until_status(service, bounced, "bounced")
    assert [(e["type"], e["bounce"]) for e in body["events"]] == [("bounced", "hard")]
    body = until_status(service, complained, "complained")
    assert [e["type"] for e in body["events"]] == ["delivered", "complained"]


def test_a_bounced_address_is_refused_next_time_unless_the_request_overrides(
    service: EmbeddedService,
) -> None:
    for name in WITH_EVENTS:
        service.set_faults(name)
    address = f"bounce@{DOMAIN}"
    first = service.post_json(to=address, subject="first", content="c",
                              ignore_suppressions=True)
    until_status(service, first.json()["emailId"], "bounced")

    refused = service.post_json(to=address, subject="again", content="c")
    forced = service.post_json(to=address, subject="again", content="c",
                               ignore_suppressions=True)

    assert refused.status_code == 400
    assert refused.json()["error"].startswith(f"{address} is on this project's suppression")
    assert forced.status_code == 202
    listed = service.http.get(f"{service.url}/suppressions").json()
    assert {(s["address"], s["reason"]) for s in listed} >= {(address, "bounced"),
                                                           (f"complain@{DOMAIN}", "complained")}


def test_the_client_is_told_of_the_bounce_by_a_signed_callback(
    service: EmbeddedService,
) -> None:
    for name in WITH_EVENTS:
        service.set_faults(name)
    with CallbackReceiver() as receiver:
        registered = service.http.post(f"{service.url}/callbacks", json={
            "url": receiver.url, "events": ["sent", "bounced"]}).json()
        answer = service.post_json(to=f"bounce@{DOMAIN}", subject="told", content="c",
                                   ignore_suppressions=True)
        email_id = answer.json()["emailId"]
        deadline = time.monotonic() + 30
        while True:  # an earlier test's email may be told too: keep this one's
            told = [event for event in (
                Webhook(registered["secret"]).verify(arrival.body, arrival.headers)
                for arrival in receiver.arrivals()) if event["data"]["emailId"] == email_id]
            if len(told) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.2)

    assert sorted((event["type"], event["data"]["status"]) for event in told) == [
        ("email.bounced", "bounced"), ("email.sent", "sent")]
    bounce = next(event["data"] for event in told if event["type"] == "email.bounced")
    assert (bounce["emailId"], bounce["bounce"]) == (email_id, "hard")


def test_a_forged_event_is_refused_and_changes_nothing(service: EmbeddedService) -> None:
    for name in WITH_EVENTS:
        service.set_faults(name)
    answer = service.post_json(to="someone@example.com", subject="s", content="c")
    email_id = answer.json()["emailId"]
    until_status(service, email_id, "delivered")

    for provider in WITH_EVENTS:
        forged = service.http.post(
            f"{service.url}/webhooks/{provider}", content=b'{"event": "bounce"}',
            headers={"content-type": "application/json"})
        assert forged.status_code == 401, (provider, forged.text)
    assert service.email(email_id)["status"] == "delivered"
