"""Embedded mode: the API in this process, the worker and the sandbox as child processes.

The worker is a child so that Celery owns its own main thread and signals; the children die
with this process (``PR_SET_PDEATHSIG`` on Linux, terminate on a clean exit).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import httpx

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def spawn(args: Sequence[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start ``python -m micromailer ARGS`` as a child that dies with us."""
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    return subprocess.Popen(
        [sys.executable, "-m", "micromailer", *args], env=env, preexec_fn=preexec
    )


def wait_until_up(url: str, child: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Poll ``url`` until it answers; raise if ``child`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"child process exited with code {child.returncode}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


@contextmanager
def children() -> Iterator[list[subprocess.Popen[bytes]]]:
    """A list to put child processes in; all are stopped on the way out."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for child in started:
            if child.poll() is None:
                child.terminate()
        for child in started:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


def free_loopback_port() -> int:
    """A port free on 127.0.0.1 now, for a child to listen on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def reachable_url(host: str, port: int) -> str:
    """The URL this machine's other processes reach a server bound to ``host:port`` by: the
    loopback address for a wildcard bind (``0.0.0.0``, ``::``), brackets for IPv6."""
    wildcards = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}
    address = wildcards.get(host, host).strip("[]")
    return f"http://[{address}]:{port}" if ":" in address else f"http://{address}:{port}"


def child_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(overrides)
    return env


__all__ = [
    "child_env",
    "children",
    "free_loopback_port",
    "reachable_url",
    "spawn",
    "wait_until_up",
]
