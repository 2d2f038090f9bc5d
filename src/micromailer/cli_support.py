"""What every ``micromailer`` command shares: settings read with a usable error."""

from __future__ import annotations

from typing import Any

import click

from micromailer.config import Settings


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment; a bad value is a usage error naming it, not a traceback."""
    try:
        return Settings(**overrides)
    except ValueError as exc:
        raise click.UsageError(f"invalid configuration: {exc}") from exc


__all__ = ["load_settings"]
