"""Chaos fixtures: fresh backends per test, and the servers' own stop/start commands."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.backends import Backends, fresh_backends


@pytest.fixture
def backends() -> Iterator[Backends]:
    with fresh_backends() as fresh:
        yield fresh


def run(command: str, timeout: float = 120) -> None:
    """Run a server-control command (as the machine notes give them); fail loudly."""
    completed = subprocess.run(command, shell=True, capture_output=True, text=True,
                               timeout=timeout)
    assert completed.returncode == 0, f"{command!r} failed: {completed.stderr or completed.stdout}"


def postgres_cluster() -> str:
    versions = sorted(path.name for path in Path("/etc/postgresql").iterdir())
    return versions[-1]


def stop_postgres() -> None:
    run(f"pg_ctlcluster --skip-systemctl-redirect {postgres_cluster()} main stop -m fast")


def start_postgres() -> None:
    run(f"pg_ctlcluster --skip-systemctl-redirect {postgres_cluster()} main start")


REDIS_START = ("redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' "
               "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log")


def stop_redis() -> None:
    run("redis-cli -h 127.0.0.1 -p 6379 shutdown nosave || true")


def start_redis() -> None:
    run(REDIS_START)
