"""Start ``micromailer run`` as a real subprocess and talk to it over HTTP."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import psutil

FINAL = {"sent", "failed"}

#: Fast timings so retries and the sweeper show within a test's patience.
FAST_TIMINGS = {
    "MICROMAILER_RETRY_DELAY": "0.3",
    "MICROMAILER_SWEEP_AFTER": "3",
    "MICROMAILER_SWEEP_INTERVAL": "0.5",
    "MICROMAILER_CLAIM_TIMEOUT": "5",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    """This process's environment without any micromailer or provider setting, plus ours."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MICROMAILER_") and not key.endswith("_API_KEY")
    }
    env.update(FAST_TIMINGS)
    env["MICROMAILER_DATA_DIR"] = str(data_dir)
    env.update(overrides)
    return env


class EmbeddedService:
    """``micromailer run`` on free ports, in its own process group."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.sandbox_port = free_port()
        self.env = clean_env(data_dir, **env)
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "service.log"
        self.url = f"http://127.0.0.1:{self.port}"
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        self.http = httpx.Client(timeout=10)

    def start(self, timeout: float = 60) -> EmbeddedService:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "micromailer", "run", "--port", str(self.port),
             "--sandbox-port", str(self.sandbox_port)],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"micromailer run exited early:\n{self.log_tail()}")
            try:
                if self.http.get(f"{self.url}/readyz").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"micromailer run did not become ready:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    # -- process control -------------------------------------------------------------------

    def kill_tree(self) -> None:
        """SIGKILL the service and every process it started, at once."""
        assert self.process is not None
        parent = psutil.Process(self.process.pid)
        tree = [parent, *parent.children(recursive=True)]
        for proc in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(signal.SIGKILL)
        psutil.wait_procs(tree, timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self._reap_group()
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill_tree()
        self._reap_group()

    def _reap_group(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    # -- API ---------------------------------------------------------------------------

    def post_json(self, **fields: Any) -> httpx.Response:
        return self.http.post(f"{self.url}/email", json=fields)

    def post_form(self, multipart: bool = False, **fields: str) -> httpx.Response:
        if multipart:
            files = {key: (None, value) for key, value in fields.items()}
            return self.http.post(f"{self.url}/email", files=files)
        return self.http.post(f"{self.url}/email", data=fields)

    def email(self, email_id: str) -> dict[str, Any]:
        response = self.http.get(f"{self.url}/email/{email_id}")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def wait_final(
        self, email_ids: Iterable[str], timeout: float = 90
    ) -> dict[str, dict[str, Any]]:
        """Poll until every email is ``sent`` or ``failed``; return their last bodies."""
        pending = set(email_ids)
        final: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for email_id in list(pending):
                body = self.email(email_id)
                if body["status"] in FINAL:
                    final[email_id] = body
                    pending.discard(email_id)
            if pending:
                time.sleep(0.3)
        if pending:
            raise AssertionError(
                f"{len(pending)} email(s) not final after {timeout:.0f} s, e.g. "
                f"{self.email(next(iter(pending)))}\n--- service log ---\n{self.log_tail()}"
            )
        return final

    def providers(self) -> list[dict[str, Any]]:
        body: list[dict[str, Any]] = self.http.get(f"{self.url}/providers").json()
        return body

    # -- sandbox ---------------------------------------------------------------------------

    def set_faults(self, provider: str, **faults: Any) -> None:
        response = self.http.put(f"{self.sandbox_url}/_sandbox/{provider}/faults", json=faults)
        response.raise_for_status()

    def captured(self, provider: str) -> list[dict[str, Any]]:
        response = self.http.get(f"{self.sandbox_url}/_sandbox/{provider}/messages")
        response.raise_for_status()
        body: list[dict[str, Any]] = response.json()
        return body


__all__ = ["FINAL", "EmbeddedService", "clean_env", "free_port"]
