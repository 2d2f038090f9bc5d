"""The sandbox's event sender against a real loopback receiver: retries, give-ups, a bounded
queue, a failing signer, and a clean close."""

from __future__ import annotations

import gc
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from micromailer.domain.simulator import ReservedRecipient
from micromailer.sandbox.capture import CapturedMessage, SentEvent
from micromailer.sandbox.event_sender import EventSender
from micromailer.sandbox.events import SandboxEvent, SignedRequest
from tests.contract.helpers import closed_port_url
from tests.support.event_receiver import EventReceiver
from tests.support.signing import hmac_signer, verified

SECRET = b"sender-test-secret"
SIGNERS = {"sendgrid": hmac_signer(SECRET)}
THREAD_NAME = "micromailer-sandbox-events"


def sender_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name == THREAD_NAME}


def captured(to: str = "alice@example.com", email_id: str = "email-1") -> CapturedMessage:
    return CapturedMessage(
        message_id="msg-1", to=to, to_name=None, from_email="billing@example.org",
        from_name=None, subject="s", html=None, text="t", metadata={"email_id": email_id},
        received_at=datetime.now(UTC),
    )


class Reports:
    """What the sender reported, waited for."""

    def __init__(self) -> None:
        self.items: list[SentEvent] = []
        self._arrived = threading.Condition()

    def __call__(self, event: SentEvent) -> None:
        with self._arrived:
            self.items.append(event)
            self._arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[SentEvent]:
        with self._arrived:
            assert self._arrived.wait_for(lambda: len(self.items) >= count, timeout)
            return list(self.items)


@pytest.fixture
def sender_factory() -> Iterator[Callable[..., EventSender]]:
    """``make(url, **options)``: a sender with short waits, closed after the test."""
    made: list[EventSender] = []

    def make(url: str, **options: object) -> EventSender:
        defaults: dict[str, object] = {"delay": 0.0, "backoff": 0.05, "signers": SIGNERS}
        sender = EventSender(url, **{**defaults, **options})  # type: ignore[arg-type]
        made.append(sender)
        return sender

    yield make
    for sender in made:
        sender.close()


def test_a_5xx_answer_is_retried_until_the_service_takes_the_event(
    sender_factory: Callable[..., EventSender],
) -> None:
    reports = Reports()
    with EventReceiver(statuses=(503, 502, 200)) as receiver:
        sender = sender_factory(receiver.url)
        sender.schedule("sendgrid", captured(), reports)

        [report] = reports.wait_for(1)
        requests = receiver.received()

    assert (report.type, report.status, report.tries, report.error) == ("delivered", 200, 3, None)
    assert [r.path for r in requests] == ["/webhooks/sendgrid"] * 3
    assert len({r.body for r in requests}) == 1  # the same signed request each time
    assert verified(requests[-1], SECRET)[0]["email_id"] == "email-1"


def test_connection_errors_are_retried_until_the_service_listens(
    sender_factory: Callable[..., EventSender],
) -> None:
    url = closed_port_url()
    port = int(url.rsplit(":", 1)[1])
    reports = Reports()
    sender = sender_factory(url, attempts=20, backoff=0.1)

    sender.schedule("sendgrid", captured(), reports)
    time.sleep(0.35)  # a few refused tries
    with EventReceiver(port=port) as receiver:
        [report] = reports.wait_for(1)
        assert len(receiver.received()) == 1

    assert report.status == 200
    assert report.tries > 1


def test_a_service_that_never_answers_is_given_up_and_the_sender_goes_on(
    sender_factory: Callable[..., EventSender],
) -> None:
    reports = Reports()
    sender = sender_factory(closed_port_url(), attempts=3, backoff=0.3)

    started = time.monotonic()
    sender.schedule("sendgrid", captured(), reports)
    sender.schedule("sendgrid", captured(ReservedRecipient.BOUNCE.address), reports)
    scheduling = time.monotonic() - started
    first, second = reports.wait_for(2)

    assert scheduling < 0.5  # never waits for the network (each give-up takes 0.9 s)
    assert (first.status, first.tries) == (None, 3)
    assert first.error is not None and first.error.startswith("ConnectError")
    assert (second.type, second.bounce, second.tries) == ("bounced", "hard", 3)


def test_a_4xx_answer_is_final(sender_factory: Callable[..., EventSender]) -> None:
    reports = Reports()
    with EventReceiver(statuses=(401,)) as receiver:
        sender_factory(receiver.url).schedule("sendgrid", captured(), reports)
        [report] = reports.wait_for(1)
        time.sleep(0.2)
        assert len(receiver.received()) == 1

    assert (report.status, report.tries, report.error) == (401, 1, "HTTP 401")


def test_the_queue_is_bounded_and_a_full_one_drops_whole_messages(
    sender_factory: Callable[..., EventSender],
) -> None:
    with EventReceiver() as receiver:
        sender = sender_factory(receiver.url, delay=60.0, capacity=2)

        sender.schedule("sendgrid", captured(), Reports())
        sender.schedule("sendgrid", captured(ReservedRecipient.COMPLAIN.address), Reports())
        sender.schedule("sendgrid", captured("bob@example.com"), Reports())

        assert (sender.pending(), sender.dropped) == (2, 2)
        sender.close()
        assert sender.pending() == 0
        assert receiver.received() == []


def test_no_signer_no_email_id_no_event(sender_factory: Callable[..., EventSender]) -> None:
    sender = sender_factory(closed_port_url())
    before = sender_threads()

    sender.schedule("smtp", captured(), Reports())
    sender.schedule("sendgrid", captured(email_id=""), Reports())

    assert sender.pending() == 0
    assert sender_threads() == before  # not even a thread started


def test_a_failing_signer_is_reported_and_the_next_event_still_goes(
    sender_factory: Callable[..., EventSender],
) -> None:
    def broken(events: list[SandboxEvent], url: str, now: datetime) -> SignedRequest:
        raise RuntimeError("no key")

    reports = Reports()
    with EventReceiver() as receiver:
        sender = sender_factory(receiver.url, signers={"mandrill": broken, **SIGNERS})
        sender.schedule("mandrill", captured(), reports)
        sender.schedule("sendgrid", captured(), reports)
        failed, sent = reports.wait_for(2)

        assert len(receiver.received()) == 1
    assert (failed.status, failed.tries, failed.error) == (None, 0, "signing failed: RuntimeError")
    assert sent.status == 200


def test_close_stops_the_thread_mid_retry_and_leaves_no_resource_behind(
    sender_factory: Callable[..., EventSender],
) -> None:
    sender = sender_factory(closed_port_url(), backoff=30.0)
    before = sender_threads()
    sender.schedule("sendgrid", captured(), Reports())
    [thread] = sender_threads() - before
    time.sleep(0.2)  # the first try is refused; the thread waits 30 s to retry

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        started = time.monotonic()
        sender.close()
        closing = time.monotonic() - started
        gc.collect()

    assert closing < 1.0
    assert not thread.is_alive()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
    sender.schedule("sendgrid", captured(), Reports())  # after close: ignored, no new thread
    assert sender_threads() == before
