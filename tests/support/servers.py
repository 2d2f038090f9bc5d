"""The servers some tests need (Redis, PostgreSQL, RabbitMQ): find them, or skip — or fail in CI.

Each ``require_*()`` reads the server's URL from the environment (default: the standard local
port), probes it with a short TCP connect, and returns the URL. When the server does not
answer, the test is skipped with the reason — except under ``CI=true``, where an absent server
is a failure: CI must not go green by skipping.

::

    def test_something() -> None:
        url = require_redis()
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

REDIS_URL_ENV = "MICROMAILER_TEST_REDIS_URL"
DATABASE_URL_ENV = "MICROMAILER_TEST_DATABASE_URL"
BROKER_URL_ENV = "MICROMAILER_TEST_BROKER_URL"

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"

#: Seconds a probe may take; a local server answers in microseconds.
PROBE_TIMEOUT = 0.5


def require_redis() -> str:
    """The test Redis's URL (database 15 by default, so tests stay away from real data)."""
    return _require("Redis", REDIS_URL_ENV, DEFAULT_REDIS_URL, 6379)


def require_postgres() -> str:
    """The test PostgreSQL's SQLAlchemy URL."""
    return _require("PostgreSQL", DATABASE_URL_ENV, DEFAULT_DATABASE_URL, 5432)


def require_rabbitmq() -> str:
    """The test RabbitMQ's broker URL."""
    return _require("RabbitMQ", BROKER_URL_ENV, DEFAULT_BROKER_URL, 5672)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def unavailable(reason: str) -> None:
    """Skip the test with ``reason``, or fail it under ``CI=true``."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a required server must be running)", pytrace=False)
    pytest.skip(reason)


def _require(server: str, env: str, default: str, default_port: int) -> str:
    url = os.environ.get(env) or default
    parts = urlsplit(url)
    where = f"{parts.hostname or '127.0.0.1'}:{parts.port or default_port}"
    try:
        if parts.scheme == "unix":
            _probe_unix(parts.path)
            where = parts.path
        else:
            _probe_tcp(parts.hostname or "127.0.0.1", parts.port or default_port)
    except OSError as exc:
        unavailable(f"{server} is not reachable at {where} (set {env} to point elsewhere): {exc}")
    return url


def _probe_tcp(host: str, port: int) -> None:
    with socket.create_connection((host, port), timeout=PROBE_TIMEOUT):
        pass


def _probe_unix(path: str) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(PROBE_TIMEOUT)
        sock.connect(path)


__all__ = [
    "BROKER_URL_ENV",
    "DATABASE_URL_ENV",
    "DEFAULT_BROKER_URL",
    "DEFAULT_DATABASE_URL",
    "DEFAULT_REDIS_URL",
    "REDIS_URL_ENV",
    "in_ci",
    "require_postgres",
    "require_rabbitmq",
    "require_redis",
    "unavailable",
]
