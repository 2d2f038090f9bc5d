"""API keys for tests, made the way an operator makes them: ``micromailer keys ...``."""

from __future__ import annotations

import subprocess
import sys


def keys_command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``micromailer keys ARGS`` in ``env``; its output, whatever its exit status."""
    return subprocess.run(
        [sys.executable, "-m", "micromailer", "keys", *args],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )


def create_key(env: dict[str, str], name: str, *options: str) -> str:
    """A new key named ``name`` (options as ``keys create`` takes them): the last word printed."""
    done = keys_command(env, "create", name, *options)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-1]


__all__ = ["create_key", "keys_command"]
