"""A fake's capture hands each accepted message to its outbox and shows the events reported
back; an outbox that fails never changes the fake's answer."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from micromailer.sandbox.capture import CapturedMessage, ProviderState, SentEvent

AT = datetime(2026, 12, 5, 16, 0, tzinfo=UTC)


def captured(to: str = "alice@example.com") -> CapturedMessage:
    return CapturedMessage(
        message_id="msg-1", to=to, to_name=None, from_email="billing@example.org",
        from_name=None, subject="s", html=None, text="t", metadata={"email_id": "email-1"},
        received_at=AT,
    )


class RecordingOutbox:
    def __init__(self) -> None:
        self.scheduled: list[tuple[str, CapturedMessage, Callable[[SentEvent], None]]] = []

    def schedule(
        self, provider: str, message: CapturedMessage, report: Callable[[SentEvent], None]
    ) -> None:
        self.scheduled.append((provider, message, report))


class BrokenOutbox:
    def schedule(
        self, provider: str, message: CapturedMessage, report: Callable[[SentEvent], None]
    ) -> None:
        raise RuntimeError("outbox bug")


def state(outbox: object | None) -> ProviderState:
    return ProviderState(name="sendgrid", api_key=None, rng=random.Random(1),
                         outbox=outbox)  # type: ignore[arg-type]


def test_each_accepted_message_goes_to_the_outbox_and_its_events_show_in_the_capture() -> None:
    outbox = RecordingOutbox()
    fake = state(outbox)

    fake.capture.record(captured())
    [(provider, message, report)] = outbox.scheduled
    report(SentEvent("delivered", AT, 200, 1))
    report(SentEvent("complained", AT, None, 4, error="ConnectError: refused"))

    assert (provider, message.to) == ("sendgrid", "alice@example.com")
    [shown] = fake.capture.messages_json()
    assert shown["events"] == [
        {"type": "delivered", "bounce": None, "at": AT.isoformat(), "status": 200, "tries": 1,
         "error": None},
        {"type": "complained", "bounce": None, "at": AT.isoformat(), "status": None,
         "tries": 4, "error": "ConnectError: refused"},
    ]


def test_without_an_outbox_a_capture_has_no_events() -> None:
    fake = state(None)

    fake.capture.record(captured())

    assert [m["events"] for m in fake.capture.messages_json()] == [[]]


def test_a_failing_outbox_never_fails_the_send(caplog: pytest.LogCaptureFixture) -> None:
    fake = state(BrokenOutbox())

    fake.capture.record(captured())

    assert fake.capture.stats() == {"accepted": 1, "rejected": 0}
    assert "events about message msg-1 are not sent" in caplog.text
