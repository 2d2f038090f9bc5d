"""The systems under test, as real processes: the baseline, micromailer distributed, embedded."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

import redis
from tests.support.backends import Backends, fresh_backends
from tests.support.processes import ManagedProcess, clean_env, free_port

REPO = Path(__file__).resolve().parents[2]
SEED = REPO.parent / "shared" / "bench" / "seed_baseline"
BASELINE_VENV = REPO / "bench" / ".venv-baseline"
FAKE_DELAY_MS = "20"


class FakeProvider:
    """The baseline's own fake provider (202 after 20 ms, ``GET /count``), same for everyone."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = ManagedProcess(
            ["fake_provider:app", "--app-dir", str(SEED), "--port", str(self.port),
             "--log-level", "warning", "--loop", "uvloop", "--http", "httptools"],
            clean_env(FAKE_DELAY_MS=FAKE_DELAY_MS), root / "fake.log",
            program=[sys.executable, "-m", "uvicorn"],
        )

    def start(self) -> FakeProvider:
        self.process.start().wait_http(f"{self.url}/count")
        return self


class Stack:
    """One system: ``start_api()``, ``start_workers()``, ``url``, ``stop()``."""

    name = ""

    def __init__(self, root: Path, fake: FakeProvider) -> None:
        self.root = root
        self.fake = fake
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.apis: list[ManagedProcess] = []
        self.workers: list[ManagedProcess] = []
        #: The API key clients send, when the system asks for one.
        self.key: str | None = None
        self._resources = ExitStack()

    def enter(self, context: AbstractContextManager[Backends]) -> Backends:
        return self._resources.enter_context(context)

    def start_api(self) -> None:
        raise NotImplementedError

    def start_workers(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        for process in [*self.workers, *self.apis]:
            process.stop()
        self._resources.close()


class BaselineStack(Stack):
    """Flask on gunicorn (4 workers), Celery prefork (8), RabbitMQ, Redis results."""

    name = "baseline"

    def __init__(self, root: Path, fake: FakeProvider) -> None:
        super().__init__(root, fake)
        backends = self.enter(fresh_backends())
        redis.Redis.from_url("redis://127.0.0.1:6379/1").flushdb()
        self.env = clean_env(
            BASELINE_BROKER_URL=backends.broker_url,
            BASELINE_RESULT_BACKEND="redis://127.0.0.1:6379/1",
            BASELINE_PROVIDER_URL=f"{fake.url}/v3/mail/send",
        )

    def start_api(self) -> None:
        api = ManagedProcess(
            ["-w", "4", "-b", f"127.0.0.1:{self.port}", "app:app"], self.env,
            self.root / "baseline-api.log", program=[str(BASELINE_VENV / "bin" / "gunicorn")],
            cwd=SEED,
        )
        self.apis.append(api.start())
        api.wait_log("Booting worker")
        api.wait_http(f"{self.url}/email/x")

    def start_workers(self) -> None:
        worker = ManagedProcess(
            ["-A", "tasks", "worker", "-c", "8", "--loglevel=info"], self.env,
            self.root / "baseline-worker.log", program=[str(BASELINE_VENV / "bin" / "celery")],
            cwd=SEED,
        )
        self.workers.append(worker.start())
        worker.wait_log(" ready.")


class DistributedStack(Stack):
    """micromailer on PostgreSQL, RabbitMQ and Redis."""

    name = "micromailer"

    def __init__(self, root: Path, fake: FakeProvider, *, api_processes: int = 2,
                 worker_processes: int = 2, worker_threads: int = 256) -> None:
        super().__init__(root, fake)
        backends = self.enter(fresh_backends())
        self.api_processes = api_processes
        self.worker_processes = worker_processes
        self.worker_threads = worker_threads
        self.env = clean_env(
            MICROMAILER_DATABASE_URL=backends.database_url,
            MICROMAILER_BROKER_URL=backends.broker_url,
            MICROMAILER_REDIS_URL=backends.redis_url,
            MICROMAILER_DATA_DIR=str(root / "var"),
            MICROMAILER_PROVIDERS="sendgrid",
            SENDGRID_API_KEY="bench-key",
            MICROMAILER_SENDGRID_BASE_URL=fake.url,
        )

    def start_api(self) -> None:
        api = ManagedProcess(
            ["serve", "--port", str(self.port), "--workers", str(self.api_processes)],
            self.env, self.root / "mm-api.log",
        )
        self.apis.append(api.start())
        api.wait_http(f"{self.url}/readyz")

    def start_workers(self) -> None:
        for n in range(self.worker_processes):
            worker = ManagedProcess(
                ["worker", "-c", str(self.worker_threads), "-n", f"bench{n}@%h"],
                self.env, self.root / f"mm-worker{n}.log",
            )
            self.workers.append(worker.start())
        for worker in self.workers:
            worker.wait_log(" ready.")


class EmbeddedStack(Stack):
    """``micromailer run``: SQLite store, SQLite broker, worker as a child."""

    name = "micromailer-embedded"

    def __init__(self, root: Path, fake: FakeProvider) -> None:
        super().__init__(root, fake)
        self.env = clean_env(
            MICROMAILER_DATA_DIR=str(root / "embedded"),
            MICROMAILER_PROVIDERS="sendgrid",
            SENDGRID_API_KEY="bench-key",
            MICROMAILER_SENDGRID_BASE_URL=fake.url,
            MICROMAILER_WORKER_CONCURRENCY="64",
        )

    def start_api(self) -> None:  # the embedded mode starts both at once
        api = ManagedProcess(["run", "--port", str(self.port)], self.env,
                             self.root / "embedded.log")
        self.apis.append(api.start())
        api.wait_http(f"{self.url}/readyz")

    def start_workers(self) -> None:
        pass


__all__ = ["BASELINE_VENV", "SEED", "BaselineStack", "DistributedStack", "EmbeddedStack",
           "FakeProvider", "Stack"]
