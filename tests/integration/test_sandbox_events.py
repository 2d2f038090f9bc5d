"""The loop in the sandbox: a fake that accepts a message sends its events, signed, to the
service's webhook URL, after a delay, in the order they happen.

The real sandbox app over loopback (``SandboxThread``), driven by each provider's real adapter;
a real HTTP server stands for the service, and a test signer (HMAC with a secret made here)
stands for each provider's, registered in ``SIGNERS`` for the test only. The providers' own
signers are tested with their webhook verifiers; the route that receives them, with the API.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from micromailer.config import SANDBOX_API_KEY, Settings
from micromailer.domain.message import Address
from micromailer.domain.simulator import ReservedRecipient
from micromailer.providers.base import ProviderAdapter
from micromailer.providers.registry import ADAPTERS
from micromailer.queue.runtime import sandbox_locator
from micromailer.sandbox import SandboxThread
from micromailer.sandbox.app import PROVIDERS
from micromailer.sandbox.event_plan import BOUNCE_REASON
from micromailer.sandbox.events import SIGNERS
from tests.contract.helpers import SANDBOX_KEYS, closed_port_url
from tests.support.event_receiver import EventReceiver, ReceivedRequest
from tests.support.fakes import make_message
from tests.support.signing import hmac_signer, verified

#: Seconds from acceptance to the first event: short, but long enough to measure.
DELAY = 0.2
#: Every fake that has a webhook to send to (SMTP has none).
HTTP_FAKES = sorted(name for name in PROVIDERS if name != "smtp")

DELIVERED = ReservedRecipient.DELIVERED.address
BOUNCE = ReservedRecipient.BOUNCE.address
COMPLAIN = ReservedRecipient.COMPLAIN.address


@pytest.fixture(scope="module")
def receiver() -> Iterator[EventReceiver]:
    with EventReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def sandbox(receiver: EventReceiver) -> Iterator[SandboxThread]:
    with SandboxThread(api_keys=SANDBOX_KEYS, seed=20, events_url=receiver.url,
                       events_delay=DELAY) as running:
        yield running


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0, trust_env=False) as running:
        yield running


def adapter(name: str, url: str, client: httpx.Client, key: str | None = None) -> ProviderAdapter:
    """The provider's real adapter, pointed at the fakes at ``url``."""
    return ADAPTERS[name](api_key=key or SANDBOX_KEYS[name], base_url=url, client=client)


def captures(sandbox: SandboxThread, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = httpx.get(f"{sandbox.url}/_sandbox/{name}/messages").json()
    return found


def captures_once_reported(
    sandbox: SandboxThread, name: str, events: int, timeout: float = 5.0
) -> list[dict[str, Any]]:
    """The captures once ``events`` events in all show in them (the sender notes each one
    after the webhook answered, so a moment after the receiver saw it)."""
    deadline = time.monotonic() + timeout
    while True:
        found = captures(sandbox, name)
        if sum(len(message["events"]) for message in found) >= events or (
            time.monotonic() > deadline
        ):
            return found
        time.sleep(0.02)


def webhook_requests(receiver: EventReceiver, name: str, since: int) -> list[ReceivedRequest]:
    return [r for r in receiver.received()[since:] if r.path == f"/webhooks/{name}"]


@pytest.mark.parametrize("name", HTTP_FAKES)
def test_a_fake_sends_each_recipients_signed_events_in_order(
    name: str, sandbox: SandboxThread, receiver: EventReceiver, client: httpx.Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """delivered@ is delivered, bounce@ hard-bounces, complain@ is delivered then complains:
    one signed request an event, with the email id and the message id the fake answered."""
    secret = secrets.token_bytes(32)
    monkeypatch.setitem(SIGNERS, name, hmac_signer(secret))  # unregistered after the test
    httpx.post(f"{sandbox.url}/_sandbox/reset").raise_for_status()
    since = len(receiver.received())
    message = make_message(to=(Address(DELIVERED), Address(BOUNCE), Address(COMPLAIN)))
    sent_at = time.monotonic()
    result = adapter(name, sandbox.url, client).send(message)
    receiver.wait_for(since + 4)
    arrived_after = time.monotonic() - sent_at

    requests = webhook_requests(receiver, name, since)
    batches = [verified(request, secret) for request in requests]
    assert [len(batch) for batch in batches] == [1, 1, 1, 1]
    events = [batch[0] for batch in batches]
    assert [(e["type"], e["recipient"], e["bounce"]) for e in events] == [
        ("delivered", DELIVERED, None),
        ("bounced", BOUNCE, "hard"),
        ("delivered", COMPLAIN, None),
        ("complained", COMPLAIN, None),
    ]
    assert {e["email_id"] for e in events} == {message.email_id}
    # The id the fake answered for each recipient (Mandrill gives each its own); the first is
    # the one the adapter read, which the worker records.
    answered = {m["to"]: m["messageId"] for m in captures(sandbox, name)}
    assert [e["message_id"] for e in events] == [answered[e["recipient"]] for e in events]
    assert events[0]["message_id"] == result.message_id
    assert events[1]["detail"] == BOUNCE_REASON
    times = [datetime.fromisoformat(e["at"]) for e in events]
    assert times == sorted(times)
    assert times[3] - times[2] >= timedelta(seconds=DELAY * 0.9)  # the complaint comes later
    assert arrived_after >= 2 * DELAY

    shown = {m["to"]: m["events"] for m in captures_once_reported(sandbox, name, 4)}
    assert {to: [(e["type"], e["status"], e["tries"]) for e in events]
            for to, events in shown.items()} == {
        DELIVERED: [("delivered", 200, 1)],
        BOUNCE: [("bounced", 200, 1)],
        COMPLAIN: [("delivered", 200, 1), ("complained", 200, 1)],
    }
    time.sleep(2 * DELAY)
    assert len(webhook_requests(receiver, name, since)) == 4  # each event once


def test_the_first_event_waits_the_delay_from_acceptance(
    sandbox: SandboxThread, receiver: EventReceiver, client: httpx.Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(SIGNERS, "sendgrid", hmac_signer(b"k"))
    httpx.post(f"{sandbox.url}/_sandbox/reset").raise_for_status()
    adapter("sendgrid", sandbox.url, client).send(make_message(to_email=DELIVERED))

    message = captures_once_reported(sandbox, "sendgrid", 1)[0]
    delivered_at = datetime.fromisoformat(message["events"][0]["at"])
    received_at = datetime.fromisoformat(message["receivedAt"])
    assert delivered_at - received_at >= timedelta(seconds=DELAY * 0.9)


def test_a_provider_without_a_signer_sends_nothing_smtp_has_no_webhook(
    sandbox: SandboxThread, receiver: EventReceiver, client: httpx.Client
) -> None:
    assert "smtp" not in SIGNERS  # SMTP has no webhook: no event of it can come back
    httpx.post(f"{sandbox.url}/_sandbox/reset").raise_for_status()
    since = len(receiver.received())
    adapter("smtp", sandbox.url, client).send(make_message(to_email=COMPLAIN))
    time.sleep(3 * DELAY)

    assert receiver.received()[since:] == []
    assert [m["events"] for m in captures(sandbox, "smtp")] == [[]]


def test_without_an_events_url_the_fakes_send_nothing(
    receiver: EventReceiver, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(SIGNERS, "sendgrid", hmac_signer(b"k"))
    since = len(receiver.received())
    with SandboxThread(api_keys=SANDBOX_KEYS, events_delay=0) as quiet:
        adapter("sendgrid", quiet.url, client).send(make_message(to_email=DELIVERED))
        time.sleep(3 * DELAY)
        shown = captures(quiet, "sendgrid")

    assert receiver.received()[since:] == []
    assert [m["events"] for m in shown] == [[]]


def test_an_unreachable_service_never_fails_the_send(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The webhook refuses connections: the send is accepted as ever, and the sandbox stops
    promptly while its sender waits between retries."""
    monkeypatch.setitem(SIGNERS, "sendgrid", hmac_signer(b"k"))
    with SandboxThread(api_keys=SANDBOX_KEYS, events_url=closed_port_url(),
                       events_delay=0) as sandbox:
        result = adapter("sendgrid", sandbox.url, client).send(make_message(to_email=DELIVERED))
        time.sleep(0.3)  # the first try is refused; the sender waits to retry
        stopping = time.monotonic()
    assert result.message_id
    assert time.monotonic() - stopping < 3.0  # the retries' waits end with the sandbox


def test_a_workers_own_fakes_for_test_keys_send_to_the_events_url_setting(
    receiver: EventReceiver, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fakes a worker starts for test emails (``LocalSandbox``) get
    ``MICROMAILER_SANDBOX_EVENTS_URL`` and its delay from the worker's settings."""
    secret = secrets.token_bytes(32)
    monkeypatch.setitem(SIGNERS, "sendgrid", hmac_signer(secret))
    settings = Settings(_env_file=None, sandbox_events_url=receiver.url,  # type: ignore[call-arg]
                        sandbox_events_delay=0)
    locator = sandbox_locator(settings)
    since = len(receiver.received())
    message = make_message(to_email=DELIVERED)
    try:
        result = adapter("sendgrid", locator.url(), client, SANDBOX_API_KEY).send(message)
        receiver.wait_for(since + 1)
    finally:
        locator.close()

    [event] = verified(webhook_requests(receiver, "sendgrid", since)[0], secret)
    assert (event["type"], event["email_id"], event["message_id"]) == (
        "delivered", message.email_id, result.message_id
    )
