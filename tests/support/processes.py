"""Child processes for tests: ``python -m micromailer ...`` with its own log, killable at will."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from tests.support.environment import configures_micromailer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without any micromailer or provider setting
    (:func:`~tests.support.environment.configures_micromailer`), plus ``overrides``."""
    env = {key: value for key, value in os.environ.items() if not configures_micromailer(key)}
    env.update(overrides)
    return env


class ManagedProcess:
    """``python -m micromailer ARGS`` (or ``program ARGS``) in its own process group, its output
    to ``log_path``."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        log_path: Path,
        *,
        program: list[str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.args = args
        self.env = env
        self.log_path = log_path
        self.program = program or [sys.executable, "-m", "micromailer"]
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*self.program, *self.args], env=self.env, cwd=self.cwd,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_http(self, url: str, timeout: float = 60, ok: tuple[int, ...] = (200,)) -> None:
        """Poll ``url`` until it answers one of ``ok``; fail with the log if the process dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.args[0]} exited early:\n{self.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url, timeout=2).status_code in ok:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{url} did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def wait_log(self, text: str, timeout: float = 60) -> None:
        """Wait until ``text`` appears in the process's output."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.args[0]} exited early:\n{self.log_tail()}")
            if self.log_path.exists() and text in self.log_path.read_text(errors="replace"):
                return
            time.sleep(0.2)
        raise RuntimeError(f"{text!r} not logged within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill_tree(self) -> None:
        """SIGKILL the process and everything it started, at once."""
        if self.process is None:
            return
        try:
            parent = psutil.Process(self.process.pid)
            tree = [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            tree = []
        for proc in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(signal.SIGKILL)
        psutil.wait_procs(tree, timeout=10)
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM, then SIGKILL whatever of its process group is left."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill_tree()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)


__all__ = ["ManagedProcess", "clean_env", "free_port"]
