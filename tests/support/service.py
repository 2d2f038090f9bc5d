"""``micromailer run`` (embedded mode) as a real subprocess on free ports."""

from __future__ import annotations

from pathlib import Path

from tests.support.client import ApiClient, SandboxClient
from tests.support.processes import ManagedProcess, clean_env, free_port

#: Fast timings so retries and the sweeper show within a test's patience.
FAST_TIMINGS = {
    "MICROMAILER_RETRY_DELAY": "0.3",
    "MICROMAILER_SWEEP_AFTER": "3",
    "MICROMAILER_SWEEP_INTERVAL": "0.5",
    "MICROMAILER_CLAIM_TIMEOUT": "5",
    # The lease is sized from the providers' total timeout: 2 providers x 3 s + 10 s = 16 s.
    "MICROMAILER_PROVIDER_TOTAL_TIMEOUT": "3",
    # The scenarios are written for these two; the sandbox fakes every known provider.
    "MICROMAILER_PROVIDERS": "sendgrid,mandrill",
    # The scenarios count emails `sent`; the fakes' delivery events, which would move them on
    # to `delivered` after a delay, come after the test (tests/e2e/test_event_loop.py
    # shortens the delay to follow them).
    "MICROMAILER_SANDBOX_EVENTS_DELAY": "3600",
}


def embedded_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    return clean_env(**{**FAST_TIMINGS, "MICROMAILER_DATA_DIR": str(data_dir), **overrides})


class EmbeddedService(ApiClient):
    """``micromailer run`` in sandbox mode: an API client with a ``sandbox`` client beside."""

    def __init__(
        self, data_dir: Path, *, port: int | None = None, sandbox_port: int | None = None,
        **env: str,
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.sandbox_port = sandbox_port or free_port()
        self.env = embedded_env(data_dir, **env)
        self.managed = ManagedProcess(
            ["run", "--port", str(self.port), "--sandbox-port", str(self.sandbox_port)],
            self.env, data_dir / "service.log",
        )
        ApiClient.__init__(self, f"http://127.0.0.1:{self.port}", self.managed.log_tail)
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        self.sandbox = SandboxClient(self.sandbox_url)

    def start(self, timeout: float = 60) -> EmbeddedService:
        self.managed.start().wait_http(f"{self.url}/readyz", timeout)
        return self

    def set_faults(self, provider: str, **faults: object) -> None:
        self.sandbox.set_faults(provider, **faults)

    def captured(self, provider: str) -> list[dict[str, object]]:
        return self.sandbox.captured(provider)

    def kill_tree(self) -> None:
        self.managed.kill_tree()

    def stop(self) -> None:
        self.managed.stop()

    def log_tail(self, lines: int = 60) -> str:
        return self.managed.log_tail(lines)


__all__ = ["FAST_TIMINGS", "EmbeddedService", "embedded_env"]
