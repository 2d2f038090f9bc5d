"""Embedded mode's health snapshots: what the store keeps and what the API makes of it.

A 429 that names its ``Retry-After`` holds a provider off (breaker strategy) until
``retry_at``; the snapshot must carry that time, on SQLite and PostgreSQL alike, or
``GET /providers`` shows a held provider as healthy.
"""

from __future__ import annotations

import time
from pathlib import Path

from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from micromailer.api.app import create_app
from micromailer.config import Settings
from micromailer.health.base import ProviderHealth
from micromailer.store.engine import make_engine
from micromailer.store.health_snapshots import HealthSnapshotStore
from micromailer.store.migrate import alembic_config, upgrade
from tests.support.fakes import sqlite_url


def _store(tmp_path: Path) -> HealthSnapshotStore:
    url = sqlite_url(tmp_path)
    upgrade(url)
    return HealthSnapshotStore(make_engine(url))


def test_the_snapshot_keeps_a_429s_retry_at(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.save_health([ProviderHealth("sendgrid", 50.0, 1.0, None, 1_772_366_430.5)])

    assert store.load_health() == [ProviderHealth("sendgrid", 0.0, 1.0, None, 1_772_366_430.5)]
    store.engine.dispose()


def test_get_providers_holds_a_provider_until_the_retry_at_of_its_snapshot(
    tmp_path: Path,
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path, providers="sendgrid,mandrill", strategy="breaker"
    )
    upgrade(settings.store_url)
    store = HealthSnapshotStore(make_engine(settings.store_url))
    store.save_health([ProviderHealth("sendgrid", 0.0, 1.0, None, time.time() + 300.0)])

    with TestClient(create_app(settings)) as client:
        rows = client.get("/providers").json()

    store.engine.dispose()
    scores = {row["name"]: row["score"] for row in rows}
    assert scores == {"sendgrid": 0.0, "mandrill": 49.0}


def test_migration_0002_adds_retry_at_to_a_0001_database_and_removes_it_again(
    tmp_path: Path,
) -> None:
    url = sqlite_url(tmp_path)
    upgrade(url, "0001")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO provider_health (name, health, last_error, updated_at) "
            "VALUES ('sendgrid', 0.9, 100.0, '2026-12-04 10:00:00.000000')"
        )

    upgrade(url, "0002")
    columns = {column["name"] for column in inspect(engine).get_columns("provider_health")}
    loaded = HealthSnapshotStore(engine).load_health()
    command.downgrade(alembic_config(url), "0001")
    after_downgrade = {c["name"] for c in inspect(engine).get_columns("provider_health")}

    engine.dispose()
    assert "retry_at" in columns and "retry_at" not in after_downgrade
    assert loaded == [ProviderHealth("sendgrid", 0.0, 0.9, 100.0, None)]
