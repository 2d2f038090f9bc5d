"""Fixtures that start the real service as a subprocess."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.service import EmbeddedService


@pytest.fixture
def service(tmp_path: Path) -> Iterator[EmbeddedService]:
    """A fresh ``micromailer run`` in sandbox mode, its data under a temporary directory."""
    running = EmbeddedService(tmp_path / "var").start()
    try:
        yield running
    finally:
        running.stop()
