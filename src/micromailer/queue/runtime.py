"""What a worker process holds: store, providers, health board, the delivery service and the
callback deliverer."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from celery import Celery
from sqlalchemy import Engine

from micromailer.callbacks.deliverer import CallbackDeliverer
from micromailer.callbacks.metrics import CallbackMetrics
from micromailer.callbacks.schedule import RetrySchedule
from micromailer.callbacks.sender import CallbackSender
from micromailer.config import Settings
from micromailer.delivery.dispatcher import Dispatcher
from micromailer.delivery.metrics import DeliveryMetrics
from micromailer.delivery.sandbox_route import (
    FixedSandbox,
    LocalSandbox,
    SandboxLocator,
    SandboxRoute,
)
from micromailer.delivery.service import DeliveryService
from micromailer.health.base import base_scores
from micromailer.health.board import HealthBoard, MemoryBoard
from micromailer.health.factory import make_board
from micromailer.health.snapshots import SnapshotPublisher
from micromailer.health.strategy import make_strategy
from micromailer.providers.http import AsyncHttpSender
from micromailer.providers.registry import (
    build_adapters,
    build_sandbox_adapters,
    make_async_http_client,
)
from micromailer.queue.callback_publisher import CallbackPublisher
from micromailer.queue.exporter import worker_registry
from micromailer.queue.probes import WorkerProbes, build_probes
from micromailer.queue.publisher import DeliveryPublisher
from micromailer.retry import DeliveryRetryPolicy
from micromailer.store.callback_deliveries import CallbackDeliveryStore
from micromailer.store.claims import ClaimStore
from micromailer.store.engine import make_engine
from micromailer.store.health_snapshots import HealthSnapshotStore
from micromailer.store.sweep import SweepStore

log = logging.getLogger(__name__)

#: On SQLite the worker's commits of claims, and of outcomes, start at least this far apart.
#: SQLite has one writer: the API's intake waits behind each commit, and a writer that finds
#: the lock taken sleeps in steps of up to 100 ms. Fewer, larger commits halved the embedded
#: mode's p99 at 500 requests/s while its worker delivers, at the same delivery rate
#: (``python -m bench.perf.embedded_load``, docs/performance.md). PostgreSQL takes concurrent
#: commits: there, none.
SQLITE_STORE_INTERVAL = 0.02


def store_interval(engine: Engine) -> float:
    """The least time between two of the worker's commits of one kind, on ``engine``."""
    return SQLITE_STORE_INTERVAL if engine.dialect.name == "sqlite" else 0.0


@dataclass
class WorkerRuntime:
    settings: Settings
    claims: ClaimStore
    sweeps: SweepStore
    board: HealthBoard
    publisher: DeliveryPublisher
    service: DeliveryService
    http_client: AsyncHttpSender
    #: What ``MICROMAILER_WORKER_METRICS_PORT`` serves (``queue/exporter.py``).
    metrics: DeliveryMetrics
    #: One try of a callback delivery (the ``callback`` task), and the sweeper's store for them.
    callbacks: CallbackDeliverer
    callback_deliveries: CallbackDeliveryStore
    #: The synthetic probes (``MICROMAILER_PROBE_INTERVAL``), not started; ``None`` when off.
    probes: WorkerProbes | None = None

    @classmethod
    def build(cls, settings: Settings, app: Celery) -> WorkerRuntime:
        # The delivery service's two batch threads, the sweeper and the snapshots share it.
        engine = make_engine(settings.store_url, pool_size=4)
        callback_publisher = CallbackPublisher(app)
        claims = ClaimStore(engine, publish_callbacks=callback_publisher.publish_many)
        sweeps = SweepStore(engine)
        client = make_async_http_client(settings)
        adapters = build_adapters(settings, client)
        board = make_board(
            settings, [adapter.name for adapter in adapters], make_strategy(settings.strategy)
        )
        on_learn = None
        if isinstance(board, MemoryBoard):  # a shared board is read directly by the API
            snapshots = HealthSnapshotStore(engine)
            board.load(snapshots.load_health())
            on_learn = SnapshotPublisher(board, snapshots.save_health).notify
        publisher = DeliveryPublisher(app)
        metrics = DeliveryMetrics(worker_registry())
        service = DeliveryService(
            store=claims,
            dispatcher=Dispatcher(adapters, board, on_learn=on_learn, metrics=metrics),
            schedule=publisher.schedule,
            policy=DeliveryRetryPolicy(
                max_attempts=settings.max_attempts,
                delay=settings.retry_delay,
                delay_max=settings.retry_delay_max,
            ),
            claim_timeout=settings.lease_seconds,
            store_interval=store_interval(engine),
            test_dispatcher=sandbox_route(settings, client),
            metrics=metrics,
        )
        names = ", ".join(adapter.name for adapter in adapters)
        log.info("worker ready: providers %s (%s); test emails to the fakes %s; a claim holds "
                 "an email for %.0f s",
                 names, "sandbox" if settings.sandbox_mode else "live credentials",
                 f"at {settings.sandbox_url}" if settings.sandbox_url
                 else "started in this process on the first one", settings.lease_seconds)
        callback_deliveries = CallbackDeliveryStore(engine)
        callbacks = CallbackDeliverer(
            callback_deliveries,
            CallbackSender(timeout=settings.callback_timeout,
                           allow_private=settings.callback_allow_private),
            RetrySchedule.parse(settings.callback_retry_schedule),
            callback_publisher.schedule,
            CallbackMetrics(metrics.registry),
        )
        return cls(settings, claims, sweeps, board, publisher, service, client, metrics,
                   callbacks, callback_deliveries, build_probes(settings, board, on_learn))


def sandbox_locator(settings: Settings) -> SandboxLocator:
    """Where test emails' fakes are: ``MICROMAILER_SANDBOX_URL`` (in sandbox mode, the fakes
    every email goes to), else fakes this worker starts on the first test email, sending their
    events back to ``MICROMAILER_SANDBOX_EVENTS_URL`` when it is set."""
    if settings.sandbox_url:
        return FixedSandbox(settings.sandbox_url)
    return LocalSandbox(settings.sandbox_events_url, settings.sandbox_events_delay)


def sandbox_route(settings: Settings, client: AsyncHttpSender) -> SandboxRoute:
    """Test emails' dispatcher: the configured providers' adapters at the fakes, ranked on a
    memory board of their own that nothing publishes, so test traffic never moves the scores
    that ``GET /providers``, the CLI and the metrics show (even with a shared Redis board)."""

    def build(url: str) -> Dispatcher:
        adapters = build_sandbox_adapters(settings, client, url)
        board = MemoryBoard(
            make_strategy(settings.strategy), base_scores([adapter.name for adapter in adapters])
        )
        return Dispatcher(adapters, board, test_traffic=True)

    return SandboxRoute(sandbox_locator(settings), build)


__all__ = [
    "SQLITE_STORE_INTERVAL", "WorkerRuntime", "sandbox_locator", "sandbox_route",
    "store_interval",
]
