"""Live scores for ``GET /providers`` and the CLI: from the store's snapshot, or from Redis.

With a shared board the scores come straight from Redis at Redis's time, and the store is not
read; with Redis configured but down, readers get an error (the API a 503), never a guess.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from micromailer.api.app import create_app
from micromailer.config import Settings
from micromailer.health.base import ProviderHealth
from micromailer.health.live import BoardUnavailableError, read_live_scores
from micromailer.health.original import OriginalStrategy
from micromailer.health.redis_board import RedisBoard
from micromailer.health.redis_states import redis_client
from micromailer.store.migrate import upgrade
from tests.support.redis_server import ThrowawayRedis, closed_port_url

BASES = {"sendgrid": 50.0, "mandrill": 49.0}
PROVIDERS = "sendgrid,mandrill"


def _settings(**values: Any) -> Settings:
    """Settings from ``values`` and defaults, not from a ``.env`` file; the original strategy,
    whose numbers these tests check."""
    values.setdefault("strategy", "original")
    return Settings(_env_file=None, providers=PROVIDERS, **values)  # type: ignore[call-arg]




def test_without_redis_scores_come_from_the_store_snapshot() -> None:
    saved = [ProviderHealth("sendgrid", 0.0, 0.5, time.time())]
    scores = read_live_scores(_settings(redis_url=None), lambda: saved)
    assert [(s.name, s.base_score, s.health) for s in scores] == [
        ("sendgrid", 50.0, 0.5),
        ("mandrill", 49.0, 1.0),
    ]
    assert scores[0].score == pytest.approx(25.0, abs=0.01)


def test_with_redis_scores_come_from_the_shared_board(redis_url: str, prefix: str) -> None:
    board = RedisBoard(redis_client(redis_url), OriginalStrategy(), BASES, prefix=prefix)
    board.record_failure("sendgrid")

    def no_store() -> list[ProviderHealth]:
        raise AssertionError("the store is not read when the board is shared")

    scores = read_live_scores(_settings(redis_url=redis_url), no_store, prefix=prefix)
    board.close()
    assert [(s.name, s.health) for s in scores] == [("sendgrid", 0.9), ("mandrill", 1.0)]
    assert 45.0 <= scores[0].score < 45.1  # at Redis's time, moments after the failure


def test_with_redis_down_scores_are_refused_not_guessed() -> None:
    with pytest.raises(BoardUnavailableError):
        read_live_scores(_settings(redis_url=closed_port_url()), list)


def test_get_providers_reads_the_shared_board_and_answers_503_without_it(
    tmp_path: Path,
) -> None:
    with ThrowawayRedis() as server:
        board = RedisBoard(redis_client(server.url), OriginalStrategy(), BASES)
        board.record_failure("sendgrid")
        board.close()
        settings = _settings(data_dir=tmp_path, redis_url=server.url)
        upgrade(settings.store_url)
        with TestClient(create_app(settings)) as client:
            rows = client.get("/providers").json()
            server.stop()
            down = client.get("/providers")
    assert [(row["name"], row["health"]) for row in rows] == [
        ("sendgrid", 0.9),
        ("mandrill", 1.0),
    ]
    assert 45.0 <= rows[0]["score"] < 45.1
    assert down.status_code == 503
    assert "Redis" in down.json()["error"]
