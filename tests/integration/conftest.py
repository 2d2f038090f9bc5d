"""The API in-process (TestClient) on a real SQLite store and a real SQLite Celery broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from micromailer.api.app import create_app
from micromailer.config import Settings
from micromailer.store.migrate import upgrade


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    upgrade(settings.store_url)
    with TestClient(create_app(settings)) as test_client:
        yield test_client
