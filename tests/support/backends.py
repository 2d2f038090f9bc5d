"""Fresh PostgreSQL databases, RabbitMQ vhosts and Redis databases for distributed tests."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis
from sqlalchemy.engine import make_url

from micromailer.store.migrate import upgrade
from tests.support.servers import require_postgres, require_rabbitmq, require_redis


@dataclass(frozen=True)
class Backends:
    database_url: str
    broker_url: str
    redis_url: str


@contextmanager
def fresh_backends() -> Iterator[Backends]:
    """A new database and vhost, and an emptied Redis database; all removed afterwards."""
    redis_url = require_redis()
    with fresh_database_and_vhost() as (database_url, broker_url):
        redis.Redis.from_url(redis_url).flushdb()
        yield Backends(database_url, broker_url, redis_url)


@contextmanager
def fresh_database_and_vhost() -> Iterator[tuple[str, str]]:
    """A new PostgreSQL database and RabbitMQ vhost (their URLs); both removed afterwards."""
    name = f"mm_test_{uuid.uuid4().hex[:12]}"
    database_url = _create_database(require_postgres(), name)
    try:
        broker_url = _create_vhost(require_rabbitmq(), name)
        try:
            yield database_url, broker_url
        finally:
            _delete_vhost(name)
    finally:
        _drop_database(require_postgres(), name)


@contextmanager
def migrated_database(kind: str, directory: Path) -> Iterator[str]:
    """The URL of a new database migrated to the latest revision: a SQLite file under
    ``directory`` (``kind`` ``"sqlite"``) or a fresh PostgreSQL database (``"postgresql"``),
    dropped afterwards."""
    if kind == "sqlite":
        url = f"sqlite:///{directory / 'store.sqlite3'}"
        upgrade(url)
        yield url
        return
    with fresh_database(require_postgres()) as url:
        upgrade(url)
        yield url


@contextmanager
def fresh_database(base_url: str) -> Iterator[str]:
    """A new PostgreSQL database beside ``base_url``'s (its URL); dropped afterwards."""
    name = f"mm_test_{uuid.uuid4().hex[:12]}"
    url = _create_database(base_url, name)
    try:
        yield url
    finally:
        _drop_database(base_url, name)


def _admin_dsn(base_url: str) -> str:
    return make_url(base_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _create_database(base_url: str, name: str) -> str:
    with psycopg.connect(_admin_dsn(base_url), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


def _drop_database(base_url: str, name: str) -> None:
    with psycopg.connect(_admin_dsn(base_url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def _rabbitmqctl(*args: str) -> bool:
    if shutil.which("rabbitmqctl") is None:
        return False
    return subprocess.run(["rabbitmqctl", *args], capture_output=True, timeout=60).returncode == 0


def _create_vhost(base_url: str, name: str) -> str:
    """A vhost of our own, so no stale message of another run reaches our workers."""
    if _rabbitmqctl("add_vhost", name) and _rabbitmqctl(
        "set_permissions", "-p", name, "guest", ".*", ".*", ".*"
    ):
        scheme, rest = base_url.split("://", 1)
        return f"{scheme}://{rest.split('/', 1)[0]}/{name}"
    return base_url


def _delete_vhost(name: str) -> None:
    _rabbitmqctl("delete_vhost", name)


__all__ = [
    "Backends", "fresh_backends", "fresh_database", "fresh_database_and_vhost", "migrated_database",
]
