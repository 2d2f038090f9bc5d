"""The backlog on ``GET /metrics``: emails queued, or sending past their lease, counted in one
query on SQLite and on a real PostgreSQL; and the breaker's parked providers beside the scores."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from micromailer.api.app import create_app
from micromailer.config import Settings
from micromailer.domain.attempt import ProviderTry
from micromailer.domain.status import Outcome, Status
from micromailer.health.base import ProviderHealth
from micromailer.store.claims import AttemptRecord
from micromailer.store.engine import make_engine
from micromailer.store.health_snapshots import HealthSnapshotStore
from micromailer.store.migrate import upgrade
from micromailer.store.stats import Backlog
from tests.support.fakes import FakeClock, Stores, stores_in
from tests.support.metrics import labelled, parse_samples

LEASE = 30.0
VALID = {"to": "ada@example.com", "subject": "Hi", "content": "Hello"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Stores]:
    with stores_in(request.param, tmp_path, clock) as stores:
        yield stores


def sent(email_id: str, clock: FakeClock) -> AttemptRecord:
    a_try = ProviderTry("sendgrid", clock.now, clock.now, Outcome.SENT, 202)
    return AttemptRecord(email_id, 1, [a_try], Status.SENT, None, provider="sendgrid")


def test_an_empty_store_has_no_backlog(store: Stores) -> None:
    assert store.stats.backlog() == Backlog(0, 0.0)


def test_queued_emails_and_expired_leases_wait_and_the_oldest_sets_the_age(
    store: Stores, clock: FakeClock,
) -> None:
    held = store.add()           # accepted at 0 s
    clock.advance(10)
    delivered = store.add()      # 10 s
    clock.advance(10)
    store.add()                  # 20 s
    clock.advance(5)
    store.add()                  # 25 s
    clock.advance(5)             # now 30 s
    assert store.claims.claim(held, LEASE) is not None           # in flight until 60 s
    assert store.claims.claim(delivered, LEASE) is not None
    assert store.claims.record([sent(delivered, clock)]) == [True]

    # In flight or final: not waiting. The two queued ones wait, the older for 10 s.
    assert store.stats.backlog() == Backlog(2, 10.0)

    clock.advance(31)  # 61 s: the lease of the held one ran out (its worker died)
    assert store.stats.backlog() == Backlog(3, 61.0)


def test_an_email_waiting_out_a_retry_backoff_is_in_the_backlog(
    store: Stores, clock: FakeClock,
) -> None:
    email_id = store.add()
    assert store.claims.claim(email_id, LEASE) is not None
    retry = store.claims.retry_record(email_id, 1, [], "attempt 1: HTTP 503", 600)
    assert store.claims.record([retry]) == [True]
    clock.advance(7)

    assert store.stats.backlog() == Backlog(1, 7.0)


# -- on GET /metrics ------------------------------------------------------------------------


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    return parse_samples(response.text)


def test_the_backlog_gauges_are_on_metrics(client: TestClient) -> None:
    assert scrape(client)[("micromailer_queue_backlog", ())] == 0
    assert scrape(client)[("micromailer_queue_oldest_seconds", ())] == 0

    for _ in range(3):
        assert client.post("/email", json=VALID).status_code == 202
    samples = scrape(client)

    assert samples[("micromailer_queue_backlog", ())] == 3  # no worker runs here
    assert samples[("micromailer_queue_oldest_seconds", ())] >= 0


@pytest.mark.parametrize("strategy", ["breaker", "original"])
def test_a_parked_provider_is_shown_under_the_breaker_alone(
    tmp_path: Path, strategy: str,
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path, strategy=strategy, providers="sendgrid,mandrill",
    )
    upgrade(settings.store_url)
    engine = make_engine(settings.store_url)
    # Five failures in a row, the last just now: the breaker parks it for its longest backoff.
    HealthSnapshotStore(engine).save_health(
        [ProviderHealth("sendgrid", 0.0, 0.9 ** 5, last_error=time.time())]
    )
    engine.dispose()

    with TestClient(create_app(settings)) as client:
        parked = labelled(scrape(client), "micromailer_provider_parked")

    if strategy == "breaker":
        assert parked == {(("provider", "sendgrid"),): 1, (("provider", "mandrill"),): 0}
    else:  # the original rule has no parking: lowered scores say it
        assert parked == {}
