"""The API in-process (TestClient) on a real SQLite store and a real SQLite Celery broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from micromailer.api.app import create_app
from micromailer.config import Settings
from micromailer.store.migrate import upgrade
from tests.support.redis_server import scratch_prefix
from tests.support.servers import require_redis


@pytest.fixture
def redis_url() -> str:
    """A live Redis (skipped locally, failed in CI, when absent)."""
    return require_redis()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own, deleted afterwards."""
    with scratch_prefix(redis_url) as name:
        yield name


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    upgrade(settings.store_url)
    with TestClient(create_app(settings)) as test_client:
        yield test_client
