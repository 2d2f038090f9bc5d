"""The rate limit at the API's door (in-process): every counted answer says the budget, the one
past it is a 429 with a sentence and ``Retry-After``, stores nothing, and the probes are never
counted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select

from micromailer.api.app import create_app
from micromailer.api.gate import TOO_MANY
from micromailer.config import Settings
from micromailer.store.engine import make_engine
from micromailer.store.keys import KeyStore
from micromailer.store.migrate import upgrade
from micromailer.store.models import EmailRow

EMAIL = {"to": "ada@example.com", "subject": "Hi", "content": "Hello"}


def stored(settings: Settings) -> int:
    engine = create_engine(settings.store_url)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(EmailRow)) or 0)
    finally:
        engine.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, rate_limit="2/minute")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    upgrade(settings.store_url)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_past_the_limit_a_request_gets_429_with_a_sentence_and_stores_nothing(
    client: TestClient, settings: Settings,
) -> None:
    answers = [client.post("/email", json=EMAIL) for _ in range(3)]

    assert [a.status_code for a in answers] == [202, 202, 429]
    assert [a.headers["ratelimit"].split(";")[1] for a in answers] == ["r=1", "r=0", "r=0"]
    assert {a.headers["ratelimit-policy"] for a in answers} == {'"per-minute";q=2;w=60'}
    refused = answers[2]
    assert refused.json() == {"status": "failed", "error": TOO_MANY, "details": []}
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "retry-after" not in answers[0].headers
    assert stored(settings) == 2


def test_every_keyed_route_counts_and_the_probes_do_not(client: TestClient) -> None:
    for _ in range(5):
        assert client.get("/healthz").status_code == 200
    assert "ratelimit" not in client.get("/readyz").headers

    first = client.get("/emails")
    assert first.status_code == 200 and first.headers["ratelimit"].startswith('"per-minute";r=1')
    assert client.post("/email", json=EMAIL).status_code == 202
    assert client.get("/emails").status_code == 429


def test_a_keys_own_rate_is_its_budget(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, rate_limit="100/minute")
    upgrade(settings.store_url)
    _, secret = KeyStore(make_engine(settings.store_url)).create("batch", rate_limit="1/hour")

    with TestClient(create_app(settings)) as client:
        headers = {"Authorization": f"Bearer {secret}"}
        answers = [client.post("/email", json=EMAIL, headers=headers) for _ in range(2)]

    assert [a.status_code for a in answers] == [202, 429]
    assert answers[0].headers["ratelimit-policy"] == '"per-hour";q=1;w=3600'
    assert 1 <= int(answers[1].headers["retry-after"]) <= 3600
