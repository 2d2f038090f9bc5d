"""Distributed mode as real processes: the sandbox, N ``serve`` and M ``worker`` processes."""

from __future__ import annotations

import itertools
from pathlib import Path

from tests.support.backends import Backends
from tests.support.client import ApiClient, SandboxClient
from tests.support.processes import ManagedProcess, clean_env, free_port

#: Timings short enough for recovery to show within a test, long enough not to thrash.
CLUSTER_TIMINGS = {
    "MICROMAILER_RETRY_DELAY": "0.5",
    "MICROMAILER_SWEEP_AFTER": "5",
    "MICROMAILER_SWEEP_INTERVAL": "1",
    "MICROMAILER_CLAIM_TIMEOUT": "10",
    # The lease is sized from the providers' total timeout: 2 providers x 5 s + 10 s = 20 s.
    "MICROMAILER_PROVIDER_TOTAL_TIMEOUT": "5",
    # The scenarios are written for these two; the sandbox fakes every known provider.
    "MICROMAILER_PROVIDERS": "sendgrid,mandrill",
}


class Cluster:
    def __init__(
        self,
        root: Path,
        backends: Backends,
        *,
        apis: int = 1,
        workers: int = 1,
        concurrency: int = 8,
        shared_board: bool = True,
        worker_options: tuple[str, ...] = (),
        **env: str,
    ) -> None:
        self.root = root
        self.backends = backends
        self.concurrency = concurrency
        self.worker_options = worker_options
        self.sandbox_port = free_port()
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        settings = {
            **CLUSTER_TIMINGS,
            "MICROMAILER_DATABASE_URL": backends.database_url,
            "MICROMAILER_BROKER_URL": backends.broker_url,
            "MICROMAILER_SANDBOX_URL": self.sandbox_url,
            "MICROMAILER_DATA_DIR": str(root / "var"),
            **({"MICROMAILER_REDIS_URL": backends.redis_url} if shared_board else {}),
            **env,
        }
        self.env = clean_env(**settings)
        self._incarnations = itertools.count()
        self.sandbox = ManagedProcess(
            ["sandbox", "--port", str(self.sandbox_port)], self.env, root / "sandbox.log"
        )
        self.api_ports = [free_port() for _ in range(apis)]
        self.apis = [
            ManagedProcess(["serve", "--port", str(port)], self.env, root / f"api{n}.log")
            for n, port in enumerate(self.api_ports)
        ]
        self.workers = [self._worker(n) for n in range(workers)]
        self.clients = [ApiClient(f"http://127.0.0.1:{port}") for port in self.api_ports]
        self.sandbox_client = SandboxClient(self.sandbox_url)

    def _worker(self, n: int) -> ManagedProcess:
        incarnation = next(self._incarnations)
        return ManagedProcess(
            ["worker", "-c", str(self.concurrency), "-n", f"worker{n}@%h",
             *self.worker_options],
            self.env, self.root / f"worker{n}-{incarnation}.log",
        )

    def start(self) -> Cluster:
        self.sandbox.start().wait_http(f"{self.sandbox_url}/_sandbox/sendgrid/stats")
        for process in [*self.apis, *self.workers]:
            process.start()
        for process, port in zip(self.apis, self.api_ports, strict=True):
            process.wait_http(f"http://127.0.0.1:{port}/readyz")
        for worker in self.workers:
            worker.wait_log(" ready.")
        return self

    def restart_worker(self, n: int) -> None:
        """SIGKILL worker ``n`` and start a new one in its place."""
        self.workers[n].kill_tree()
        self.workers[n] = self._worker(n)
        self.workers[n].start().wait_log(" ready.")

    def stop(self) -> None:
        for process in [*self.workers, *self.apis, self.sandbox]:
            process.stop()

    def logs(self) -> str:
        return "\n".join(
            f"--- {process.log_path.name} ---\n{process.log_tail(30)}"
            for process in [*self.apis, *self.workers]
        )


__all__ = ["CLUSTER_TIMINGS", "Cluster"]
