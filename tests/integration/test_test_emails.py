"""Test emails in a real worker runtime: live credentials set, yet only the sandbox fakes hear them.

The runtime is the one ``micromailer worker`` builds (``WorkerRuntime.build``), on a real
SQLite store, with SendGrid's live key set and its base URL pointed at a capturing server that
stands for the real SendGrid. No ``MICROMAILER_SANDBOX_URL``: the worker starts the fakes
itself on the first test email. Each reserved recipient gives its outcome; the capturing server
hears nothing, and the live board and its snapshots do not move.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from pydantic import SecretStr

from micromailer.config import Settings
from micromailer.domain.simulator import ReservedRecipient
from micromailer.domain.status import Outcome, Status
from micromailer.health.base import ProviderHealth
from micromailer.queue.celery_app import create_celery
from micromailer.queue.runtime import WorkerRuntime
from micromailer.sandbox.simulator import SLOW_SECONDS
from micromailer.store.engine import make_engine
from micromailer.store.health_snapshots import HealthSnapshotStore
from micromailer.store.migrate import upgrade
from tests.support.capturing import CapturingServer
from tests.support.fakes import Stores, stores_on

MAX_ATTEMPTS = 3


@dataclass
class Worker:
    runtime: WorkerRuntime
    store: Stores
    real_sendgrid: CapturingServer

    def send(self, to: str, *, test: bool = True) -> str:
        return self.store.add(to_email=to, test=test)

    def deliver(self, email_id: str) -> Status | None:
        return self.runtime.service.deliver(email_id)

    def live_health(self) -> list[ProviderHealth]:
        return self.runtime.board.states()

    def snapshots(self) -> list[ProviderHealth]:
        return HealthSnapshotStore(self.store.engine).load_health()


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    data_dir = tmp_path_factory.mktemp("test-emails")
    with CapturingServer() as real_sendgrid:
        settings = Settings(
            data_dir=data_dir,
            sendgrid_api_key=SecretStr("SG.live-secret"),
            sendgrid_base_url=real_sendgrid.url,
            max_attempts=MAX_ATTEMPTS,
            retry_delay=0.0,
        )
        assert settings.has_credentials and settings.sandbox_url is None
        upgrade(settings.store_url)
        runtime = WorkerRuntime.build(settings, create_celery(settings))
        store = stores_on(make_engine(settings.store_url))
        try:
            yield Worker(runtime, store, real_sendgrid)
        finally:
            runtime.service.close()
            store.engine.dispose()


@pytest.fixture
def untouched_live_provider(worker: Worker) -> Iterator[None]:
    """After the test: the live provider heard nothing, its health and snapshots did not move."""
    health, snapshots = worker.live_health(), worker.snapshots()
    yield
    assert worker.real_sendgrid.received() == []
    assert worker.live_health() == health
    assert worker.snapshots() == snapshots


@pytest.mark.usefixtures("untouched_live_provider")
def test_delivered_is_sent_by_the_fake_and_shown_as_a_test_email(worker: Worker) -> None:
    email_id = worker.send(ReservedRecipient.DELIVERED.address)

    assert worker.deliver(email_id) is Status.SENT

    view = worker.store.emails.get_email(email_id)
    assert view is not None and view.test
    assert (view.provider, view.attempt_count) == ("sendgrid", 1)
    assert view.provider_message_id  # the fake's X-Message-Id


@pytest.mark.usefixtures("untouched_live_provider")
def test_temp_fail_is_retried_then_failed_with_every_reason(worker: Worker) -> None:
    email_id = worker.send(ReservedRecipient.TEMP_FAIL.address)

    statuses = [worker.deliver(email_id) for _ in range(MAX_ATTEMPTS)]

    assert statuses == [Status.QUEUED] * (MAX_ATTEMPTS - 1) + [Status.FAILED]
    view = worker.store.emails.get_email(email_id)
    assert view is not None and view.error is not None
    assert view.error.startswith(f"gave up after {MAX_ATTEMPTS} attempts")
    assert [(a.outcome, a.status_code) for a in view.attempts] == [
        (Outcome.FAILED, 503)
    ] * MAX_ATTEMPTS


@pytest.mark.usefixtures("untouched_live_provider")
def test_perm_fail_is_failed_at_once_as_a_refused_recipient(worker: Worker) -> None:
    email_id = worker.send(ReservedRecipient.PERM_FAIL.address)

    assert worker.deliver(email_id) is Status.FAILED

    view = worker.store.emails.get_email(email_id)
    assert view is not None
    assert view.attempt_count == 1
    assert [a.outcome for a in view.attempts] == [Outcome.RECIPIENT_REJECTED]
    assert view.error is not None and "recipient refused" in view.error


@pytest.mark.usefixtures("untouched_live_provider")
def test_slow_is_sent_after_the_fakes_delay(worker: Worker) -> None:
    email_id = worker.send(ReservedRecipient.SLOW.address)
    started = time.monotonic()

    assert worker.deliver(email_id) is Status.SENT

    assert time.monotonic() - started >= SLOW_SECONDS


@pytest.mark.usefixtures("untouched_live_provider")
def test_an_ordinary_recipient_of_a_test_email_is_taken_by_the_fake_too(worker: Worker) -> None:
    email_id = worker.send("jane@example.com")

    assert worker.deliver(email_id) is Status.SENT


@pytest.mark.usefixtures("untouched_live_provider")
def test_test_emails_tries_stay_out_of_the_providers_try_metrics(worker: Worker) -> None:
    """``micromailer_provider_tries_total`` counts real providers' tries only."""
    before = worker.store.stats.count_tries()
    email_ids = [worker.send(recipient.address) for recipient in
                 (ReservedRecipient.DELIVERED, ReservedRecipient.TEMP_FAIL)]

    assert [worker.deliver(email_id) for email_id in email_ids] == [Status.SENT, Status.QUEUED]

    assert worker.store.stats.count_tries() == before


def test_a_live_email_still_reaches_the_real_provider(worker: Worker) -> None:
    """The counter-proof: the capturing server is wired and would have heard a leak."""
    email_id = worker.send("jane@example.com", test=False)

    assert worker.deliver(email_id) is Status.SENT

    received = worker.real_sendgrid.received()
    assert [(r.method, r.path) for r in received] == [("POST", "/v3/mail/send")]
    assert b"SG.live-secret" not in received[0].body
    assert worker.store.stats.count_tries() == {("sendgrid", "sent"): 1}
