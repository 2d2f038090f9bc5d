"""``GET /metrics``: what the store and the health board hold, in Prometheus's text format.

The API runs in-process on a real SQLite store; the board is a real Redis where a test needs
one. The text is read back with prometheus-client's own parser, as Prometheus would.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from micromailer.api.app import create_app
from micromailer.config import KNOWN_PROVIDERS, Settings
from micromailer.domain.attempt import ProviderTry
from micromailer.domain.status import Outcome, Status
from micromailer.health.original import OriginalStrategy
from micromailer.health.redis_board import RedisBoard
from micromailer.health.redis_states import redis_client
from micromailer.store.claims import AttemptRecord, ClaimStore
from micromailer.store.engine import make_engine
from micromailer.store.migrate import upgrade
from tests.support.metrics import SampleKey, labelled, parse_samples
from tests.support.redis_server import ThrowawayRedis

VALID = {"to": "ada@example.com", "to_name": "Ada", "subject": "Hi", "content": "Hello"}
NOW = datetime(2026, 1, 1, tzinfo=UTC)

Samples = dict[SampleKey, float]


def scrape(client: TestClient) -> Samples:
    """Every sample of ``GET /metrics``, keyed by name and sorted labels."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return parse_samples(response.text)


def emails_total(samples: Samples, status: str) -> float:
    return samples[("micromailer_emails_total", (("status", status),))]


def post_emails(client: TestClient, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        response = client.post("/email", json=VALID)
        assert response.status_code == 202, response.text
        ids.append(response.json()["emailId"])
    return ids


def a_try(provider: str, outcome: Outcome) -> ProviderTry:
    return ProviderTry(provider, NOW, NOW, outcome, 503 if outcome is Outcome.FAILED else 202)


def test_emails_and_tries_are_counted_from_the_store(
    client: TestClient, settings: Settings
) -> None:
    empty = scrape(client)
    assert emails_total(empty, "queued") == 0

    sent, failed, _waiting = post_emails(client, 3)
    store = ClaimStore(make_engine(settings.store_url))
    store.claim(sent, 30.0)
    store.claim(failed, 30.0)
    store.record([
        AttemptRecord(sent, 1, [a_try("sendgrid", Outcome.FAILED), a_try("mandrill", Outcome.SENT)],
                      Status.SENT, None, provider="mandrill", provider_message_id="m-1"),
        AttemptRecord(failed, 1, [a_try("sendgrid", Outcome.RECIPIENT_REJECTED)],
                      Status.FAILED, "the recipient was refused"),
    ])
    store.engine.dispose()

    samples = scrape(client)
    assert emails_total(samples, "queued") == 3  # every accepted email, whatever became of it
    assert emails_total(samples, "sent") == 1
    assert emails_total(samples, "failed") == 1
    current = {status: samples[("micromailer_emails_current", (("status", status),))]
               for status in Status}
    assert current == {Status.QUEUED: 1, Status.SENDING: 0, Status.SENT: 1, Status.FAILED: 1,
                       Status.DELIVERED: 0, Status.BOUNCED: 0, Status.COMPLAINED: 0}
    assert labelled(samples, "micromailer_provider_tries_total") == {
        (("outcome", "failed"), ("provider", "sendgrid")): 1,
        (("outcome", "sent"), ("provider", "mandrill")): 1,
        (("outcome", "recipient_rejected"), ("provider", "sendgrid")): 1,
    }
    assert samples[("process_resident_memory_bytes", ())] > 0


def test_provider_scores_come_from_the_board_and_go_missing_without_it(tmp_path: Path) -> None:
    with ThrowawayRedis() as server:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, data_dir=tmp_path, redis_url=server.url, strategy="original",
            providers="sendgrid,mandrill",
        )
        board = RedisBoard(redis_client(server.url), OriginalStrategy(),
                           {"sendgrid": 50.0, "mandrill": 49.0})
        board.record_failure("sendgrid")
        board.close()
        upgrade(settings.store_url)
        with TestClient(create_app(settings)) as client:
            up = scrape(client)
            server.stop()
            down = scrape(client)

    assert up[("micromailer_health_board_up", ())] == 1
    assert 45.0 <= up[("micromailer_provider_score", (("provider", "sendgrid"),))] < 45.1
    assert up[("micromailer_provider_score", (("provider", "mandrill"),))] == 49.0
    assert up[("micromailer_provider_base_score", (("provider", "sendgrid"),))] == 50.0
    # Redis gone: the scores are left out rather than guessed; the store's figures remain.
    assert down[("micromailer_health_board_up", ())] == 0
    assert not any(name == "micromailer_provider_score" for name, _ in down)
    assert emails_total(down, "queued") == 0


def test_without_redis_every_configured_provider_has_a_score(client: TestClient) -> None:
    samples = scrape(client)
    scored = labelled(samples, "micromailer_provider_score")
    assert {dict(labels)["provider"] for labels in scored} == set(KNOWN_PROVIDERS)


def test_openmetrics_is_served_to_a_scraper_that_asks_for_it(client: TestClient) -> None:
    response = client.get("/metrics", headers={"accept": "application/openmetrics-text"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert "# TYPE micromailer_emails counter" in response.text
    assert response.text.endswith("# EOF\n")


def test_an_unreachable_store_answers_503_with_a_sentence(tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path,
        database_url="postgresql://micromailer@127.0.0.1:1/nowhere",
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/metrics")
    assert response.status_code == 503
    assert "store is unavailable" in response.json()["error"]
