"""Callbacks through a real worker (``micromailer worker``, its Celery queue on the embedded
SQLite broker) on SQLite and PostgreSQL stores: an email recorded ``sent`` makes its signed
callback arrive; a receiver that fails is tried again on the schedule until it recovers, and
the delivery log through the API shows the tries; one that never recovers ends ``failed``;
a delivery whose task was never published is found by the sweeper."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from micromailer.api.app import create_app
from micromailer.config import Settings
from micromailer.domain.attempt import ProviderTry
from micromailer.domain.status import Outcome, Status
from micromailer.queue.callback_publisher import CallbackPublisher
from micromailer.queue.celery_app import create_celery
from micromailer.store.callback_outbox import enqueue_callbacks
from micromailer.store.claims import AttemptRecord, ClaimStore
from micromailer.store.emails import EmailStore
from micromailer.store.engine import make_engine
from tests.support.backends import migrated_database
from tests.support.fakes import make_new_email
from tests.support.processes import ManagedProcess, clean_env
from tests.support.receiver import Arrival, CallbackReceiver

#: Seconds between tries, short so that the test sees them all.
SCHEDULE = (1.0, 2.0, 3.0)
SWEEP_AFTER = 3.0
#: What a try may come later than planned: the broker's poll, the worker's threads.
SLACK = 1.5


@dataclass
class Deployment:
    settings: Settings
    api: TestClient
    claims: ClaimStore
    emails: EmailStore
    worker: ManagedProcess

    def register(self, url: str, events: list[str]) -> dict[str, Any]:
        answer = self.api.post("/callbacks", json={"url": url, "events": events})
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def send_email(self) -> str:
        """An email, claimed and recorded ``sent`` as a worker records it (the outbox runs
        in that transaction; its deliveries are published once committed)."""
        new = make_new_email()
        self.emails.add_email(new)
        claim = self.claims.claim(new.email_id, 30)
        assert claim is not None
        now = datetime.now(UTC)
        tried = ProviderTry("sendgrid", now, now + timedelta(milliseconds=5), Outcome.SENT,
                            202, None)
        assert self.claims.record([AttemptRecord(
            new.email_id, claim.attempt_number, [tried], Status.SENT, None,
            provider="sendgrid", provider_message_id="sg-77")]) == [True]
        return new.email_id

    def log(self, callback_id: str) -> list[dict[str, Any]]:
        answer = self.api.get(f"/callbacks/{callback_id}/deliveries")
        assert answer.status_code == 200, answer.text
        body: list[dict[str, Any]] = answer.json()
        return body

    def wait_log(self, callback_id: str, status: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.log(callback_id)
            if log and log[0]["status"] == status:
                return log[0]
            time.sleep(0.1)
        raise AssertionError(f"not {status} after {timeout:g} s: {self.log(callback_id)}\n"
                             f"--- worker ---\n{self.worker.log_tail()}")


@pytest.fixture(params=["sqlite", "postgresql"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    with migrated_database(request.param, tmp_path) as database_url:
        variables = {
            "MICROMAILER_DATA_DIR": str(tmp_path),
            "MICROMAILER_DATABASE_URL": database_url,
            "MICROMAILER_SANDBOX_URL": "http://127.0.0.1:9",  # no email goes through it
            "MICROMAILER_CALLBACK_ALLOW_PRIVATE": "true",
            "MICROMAILER_CALLBACK_RETRY_SCHEDULE": ",".join(f"{s:g}" for s in SCHEDULE),
            "MICROMAILER_SWEEP_AFTER": f"{SWEEP_AFTER:g}",
            "MICROMAILER_SWEEP_INTERVAL": "0.5",
            "MICROMAILER_LOG_FORMAT": "console",
        }
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, data_dir=tmp_path, database_url=database_url,
            sandbox_url="http://127.0.0.1:9", callback_allow_private=True,
        )
        worker = ManagedProcess(["worker", "--concurrency", "4"], clean_env(**variables),
                                tmp_path / "worker.log").start()
        engine = make_engine(settings.store_url, pool_size=2)
        publisher = CallbackPublisher(create_celery(settings))
        try:
            worker.wait_log("worker ready", timeout=60)
            with TestClient(create_app(settings)) as api:
                yield Deployment(settings, api,
                                 ClaimStore(engine, publish_callbacks=publisher.publish_many),
                                 EmailStore(engine), worker)
        finally:
            worker.stop()
            engine.dispose()


def test_a_sent_email_makes_its_signed_callback_arrive_once(deployment: Deployment) -> None:
    with CallbackReceiver() as receiver:
        callback = deployment.register(receiver.url, ["sent"])
        started = time.monotonic()
        email_id = deployment.send_email()

        [arrival] = receiver.wait_for(1, timeout=15)
        entry = deployment.wait_log(callback["id"], "delivered", timeout=10)
        time.sleep(1.0)

    assert len(receiver.arrivals()) == 1
    event = Webhook(callback["secret"]).verify(arrival.body, arrival.headers)
    assert event["type"] == "email.sent"
    assert event["data"] == {"emailId": email_id, "status": "sent", "provider": "sendgrid",
                             "providerMessageId": "sg-77"}
    assert arrival.headers["webhook-id"] == entry["id"]
    assert (entry["event"], entry["emailId"], entry["attempts"], entry["lastStatusCode"]) == (
        "sent", email_id, 1, 200)
    print(f"\nsent → callback arrived in {arrival.at - started:.2f} s")


def test_a_failing_receiver_is_retried_with_backoff_then_delivered_once(
    deployment: Deployment,
) -> None:
    fails = len(SCHEDULE)
    with CallbackReceiver(fail_first=fails, fail_body=b"busy") as receiver:
        callback = deployment.register(receiver.url, ["*"])
        started = time.monotonic()
        email_id = deployment.send_email()

        arrivals = receiver.wait_for(fails + 1, timeout=sum(SCHEDULE) + 20)
        entry = deployment.wait_log(callback["id"], "delivered", timeout=10)
        time.sleep(SCHEDULE[0] + SLACK)

    assert [a.answered for a in receiver.arrivals()] == [500] * fails + [200]
    gaps = _gaps(arrivals)
    for gap, planned in zip(gaps, SCHEDULE, strict=True):
        assert planned - 0.05 <= gap <= planned + SLACK, (gaps, SCHEDULE)
    assert {a.headers["webhook-id"] for a in arrivals} == {entry["id"]}
    assert len({a.body for a in arrivals}) == 1, "every try carries the same event"
    for arrival in arrivals:
        Webhook(callback["secret"]).verify(arrival.body, arrival.headers)
    assert json.loads(arrivals[-1].body)["data"]["emailId"] == email_id
    assert (entry["status"], entry["attempts"], entry["lastStatusCode"], entry["lastError"],
            entry["nextAt"]) == ("delivered", fails + 1, 200, None, None)
    assert entry["deliveredAt"] is not None
    print(f"\nfailing receiver: {fails + 1} tries, gaps {', '.join(f'{g:.2f}' for g in gaps)} s "
          f"(planned {', '.join(f'{s:g}' for s in SCHEDULE)}); delivered "
          f"{arrivals[-1].at - started:.2f} s after the email was recorded sent")


def test_a_receiver_that_never_recovers_ends_failed_after_the_schedule(
    deployment: Deployment,
) -> None:
    with CallbackReceiver(fail_first=None, fail_status=503, fail_body=b"down") as receiver:
        callback = deployment.register(receiver.url, ["sent", "failed"])
        started = time.monotonic()
        deployment.send_email()

        entry = deployment.wait_log(callback["id"], "failed", timeout=sum(SCHEDULE) + 20)
        ended = time.monotonic()
        time.sleep(SCHEDULE[-1] + SLACK)

    arrivals = receiver.arrivals()
    assert len(arrivals) == len(SCHEDULE) + 1, "one try, then one per delay, then no more"
    assert (entry["attempts"], entry["lastStatusCode"], entry["lastError"], entry["nextAt"],
            entry["deliveredAt"]) == (len(SCHEDULE) + 1, 503, "HTTP 503: down", None, None)
    print(f"\nreceiver never recovers: {len(arrivals)} tries, gaps "
          f"{', '.join(f'{g:.2f}' for g in _gaps(arrivals))} s; failed "
          f"{ended - started:.2f} s after the email was recorded sent")


def test_a_delivery_whose_task_was_never_published_is_swept(deployment: Deployment) -> None:
    with CallbackReceiver() as receiver:
        callback = deployment.register(receiver.url, ["delivered"])
        engine = deployment.claims.engine
        with engine.begin() as connection:  # the integrator's path, its publish lost
            enqueue_callbacks(connection, None, "an-email", "delivered", status="delivered")
        started = time.monotonic()

        [arrival] = receiver.wait_for(1, timeout=SWEEP_AFTER + 10)

    assert arrival.at - started >= SWEEP_AFTER - 0.5
    Webhook(callback["secret"]).verify(arrival.body, arrival.headers)
    assert deployment.log(callback["id"])[0]["status"] == "delivered"


def _gaps(arrivals: list[Arrival]) -> list[float]:
    return [later.at - earlier.at for earlier, later in pairwise(arrivals)]
