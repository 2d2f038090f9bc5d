"""The API in process and a worker runtime on one real store, delivering to the sandbox fakes.

The API is the real app behind Starlette's ``TestClient``; the worker is the runtime
``micromailer worker`` builds (``WorkerRuntime.build``), whose delivery service the test calls
by hand (``deliver``), one attempt at a time, rather than through a Celery consumer. The store
is SQLite with its SQLite broker, or a fresh PostgreSQL database with a RabbitMQ vhost of its
own; the providers are the sandbox's fakes, whose faults the test sets.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from kombu import Connection
from sqlalchemy import Engine, text

from micromailer.api.app import create_app
from micromailer.config import Settings
from micromailer.domain.status import Status
from micromailer.queue.celery_app import create_celery
from micromailer.queue.runtime import WorkerRuntime
from micromailer.queue.sqlite_transport import TRANSPORT_PATH
from micromailer.sandbox import SandboxThread
from micromailer.store.engine import make_engine
from micromailer.store.keys import KeyStore
from micromailer.store.migrate import upgrade
from tests.support.backends import fresh_database_and_vhost
from tests.support.client import SandboxClient
from tests.support.deliver_queue import take_email_ids

STORES = ["sqlite", "postgresql"]


@dataclass(frozen=True)
class Key:
    """An API key to make before the API starts (authentication is then on)."""

    name: str
    project: str
    scope: str = "send"
    test: bool = False


@dataclass
class Relay:
    client: TestClient
    settings: Settings
    runtime: WorkerRuntime
    sandbox: SandboxClient
    engine: Engine
    #: The secret of each key made for the test, by name.
    keys: dict[str, str] = field(default_factory=dict)

    def as_key(self, name: str) -> dict[str, str]:
        """The headers that send a request with the key ``name``."""
        return {"Authorization": f"Bearer {self.keys[name]}"}

    def deliver(self, email_id: str) -> Status | None:
        """One delivery attempt, as a worker runs it when the deliver task arrives."""
        return self.runtime.service.deliver(email_id)

    def email(self, email_id: str, **headers: str) -> dict[str, Any]:
        answer = self.client.get(f"/email/{email_id}", headers=headers)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def fail_every_send(self, on: bool = True) -> None:
        """Every configured fake answers 503 (``on``), or none does."""
        for name in self.settings.provider_names():
            self.sandbox.set_faults(name, **({"failRate": 1.0, "status": 503} if on else {}))

    def published(self) -> list[str]:
        """The email ids of the deliver tasks waiting in the queue, taken off it in order."""
        url = self.settings.celery_broker_url
        options = {"transport": TRANSPORT_PATH} if url.startswith("sqla+") else {}
        with Connection(url, **options) as connection:
            return take_email_ids(connection, timeout=0.5)

    def count(self, query: str) -> int:
        with self.engine.connect() as connection:
            found: int = connection.execute(text(query)).scalar_one()
        return found


@contextmanager
def running_relay(
    kind: str, directory: Path, *, keys: Sequence[Key] = (), **settings: Any,
) -> Iterator[Relay]:
    """A relay on a ``sqlite`` or ``postgresql`` store (see the module), with the sandbox's
    fakes as its providers (SendGrid's only, unless ``settings`` say otherwise), ``settings``
    over the defaults, and ``keys``."""
    with ExitStack() as cleanup:
        sandbox = cleanup.enter_context(SandboxThread())
        stores: dict[str, Any] = {}
        if kind == "postgresql":
            database_url, broker_url = cleanup.enter_context(fresh_database_and_vhost())
            stores = {"database_url": database_url, "broker_url": broker_url}
        config = Settings(  # type: ignore[call-arg]
            data_dir=directory, sandbox_url=sandbox.url, _env_file=None,
            **{"providers": "sendgrid", "retry_delay": 0.0, **stores, **settings},
        )
        upgrade(config.store_url)
        engine = make_engine(config.store_url, pool_size=2)
        cleanup.callback(engine.dispose)
        secrets = {
            key.name: KeyStore(engine).create(key.name, project=key.project, scope=key.scope,
                                              test=key.test)[1]
            for key in keys
        }
        runtime = WorkerRuntime.build(config, create_celery(config))
        cleanup.callback(runtime.service.close)
        client = cleanup.enter_context(TestClient(create_app(config)))
        yield Relay(client, config, runtime, SandboxClient(sandbox.url), engine, secrets)


def captured_subjects(relay: Relay, provider: str = "sendgrid") -> list[str]:
    """The subjects the fake ``provider`` accepted, oldest first."""
    return [str(message.get("subject")) for message in relay.sandbox.captured(provider)]


def concurrently(client: TestClient, requests: Sequence[tuple[str, str]],
                 **headers: str) -> list[httpx.Response]:
    """Send ``(method, path)`` requests at once, each from a thread of its own."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(
            lambda request: client.request(request[0], request[1], headers=headers), requests
        ))


__all__ = ["STORES", "Key", "Relay", "captured_subjects", "concurrently", "running_relay"]
