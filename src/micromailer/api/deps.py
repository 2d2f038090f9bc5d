"""What routes depend on: the service's parts, held on the app, typed as ``Annotated`` aliases."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from micromailer.api.intake.checks import IntakeCheck, build_intake_checks
from micromailer.api.intake.idempotency import IdempotencyGuard
from micromailer.api.score_history import ScoreHistory
from micromailer.callbacks.urls import Resolver, system_resolver
from micromailer.config import Settings
from micromailer.delivery.carriage import Carriage
from micromailer.delivery.intake import Sender
from micromailer.delivery.pipeline import IntakePipeline
from micromailer.health.live import LiveScoreReader
from micromailer.providers.registry import ADAPTERS
from micromailer.queue.batch_publisher import BatchPublisher
from micromailer.queue.callback_publisher import CallbackPublisher
from micromailer.queue.celery_app import create_celery
from micromailer.queue.publisher import DeliveryPublisher
from micromailer.security.audit import AuditLog
from micromailer.security.keyring import KeyRing
from micromailer.security.principal import Principal, principal_of
from micromailer.security.rate_limit import RateLimiter, build_rate_limiter
from micromailer.store.audit import AuditStore
from micromailer.store.callbacks import CallbackStore
from micromailer.store.emails import EmailStore
from micromailer.store.engine import make_engine
from micromailer.store.events import EventStore
from micromailer.store.health_snapshots import HealthSnapshotStore
from micromailer.store.idempotency import IdempotencyStore
from micromailer.store.keys import KeyStore
from micromailer.store.retries import RetryStore
from micromailer.store.stats import StatsStore
from micromailer.store.suppressions import SuppressionStore
from micromailer.webhooks.registry import WebhookVerifiers


@dataclass
class Services:
    settings: Settings
    store: EmailStore
    #: The counts ``GET /metrics`` shows.
    stats: StatsStore
    publisher: DeliveryPublisher
    intake: IntakePipeline
    #: The live scores ``GET /providers`` and the score history show.
    scores: LiveScoreReader
    #: The live API keys every request is checked against (``api/gate.py``).
    keys: KeyRing
    rate_limiter: RateLimiter
    audit: AuditLog
    #: ``Idempotency-Key`` on ``POST /email`` and ``POST /emails``
    #: (``api/intake/idempotency.py``).
    idempotency: IdempotencyGuard
    #: ``POST /email/{id}/retry``: a failed email's new delivery cycle.
    retries: RetryStore
    #: Each project's suppression list (``GET/POST/DELETE /suppressions``).
    suppressions: SuppressionStore
    #: The providers' events (``POST /webhooks/{provider}``): their checks and their store.
    webhooks: WebhookVerifiers
    events: EventStore
    #: Publishes the callback deliveries the events made, once they are committed.
    callback_publisher: CallbackPublisher
    #: The project's callback URLs and their delivery logs (``/callbacks``).
    callbacks: CallbackStore
    #: Run on every ``POST /email``, in order, before it is decoded (``api/intake/checks.py``).
    intake_checks: list[IntakeCheck] = field(default_factory=list)
    #: How a callback URL's host is looked up when it is registered.
    callback_resolver: Resolver = system_resolver

    @property
    def sender(self) -> Sender:
        return Sender(self.settings.sender_email, self.settings.sender_name)


def build_services(settings: Settings) -> Services:
    """The parts of one API process, built from ``settings``."""
    engine = make_engine(settings.store_url)
    store = EmailStore(engine)
    celery = create_celery(settings)
    sender = Sender(settings.sender_email, settings.sender_name)
    suppressions = SuppressionStore(engine)
    return Services(
        settings=settings,
        store=store,
        stats=StatsStore(engine),
        publisher=DeliveryPublisher(celery),
        intake=IntakePipeline(store, BatchPublisher(celery).publish_many, sender,
                              carriage=carriage_of(settings),
                              suppressed_among=suppressions.suppressed),
        scores=LiveScoreReader(settings, HealthSnapshotStore(engine).load_health),
        keys=KeyRing(KeyStore(engine).active, require_auth=settings.require_auth),
        rate_limiter=build_rate_limiter(settings),
        audit=AuditLog(AuditStore(engine)),
        idempotency=IdempotencyGuard(IdempotencyStore(engine, ttl=settings.idempotency_ttl)),
        callbacks=CallbackStore(engine),
        retries=RetryStore(engine),
        intake_checks=build_intake_checks(settings),
        suppressions=suppressions,
        webhooks=WebhookVerifiers(settings),
        events=EventStore(engine),
        callback_publisher=CallbackPublisher(celery),
    )


def carriage_of(settings: Settings) -> Carriage:
    """The limits every accepted message meets: the settings' and the configured providers'
    (``delivery/carriage.py``)."""
    return Carriage(
        max_bytes=settings.max_message_bytes,
        max_recipients=settings.max_recipients,
        providers=[(name, ADAPTERS[name].capabilities)
                   for name in settings.provider_names() if name in ADAPTERS],
    )


# Async, though they do no I/O: FastAPI runs a plain ``def`` dependency in its thread pool,
# a thread hand-off on every request.
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_score_history(request: Request) -> ScoreHistory:
    history: ScoreHistory = request.app.state.score_history
    return history


async def get_principal(request: Request) -> Principal:
    """Who the request acts for, as the key gate found (``api/gate.py``)."""
    return principal_of(request.scope)


ServicesDep = Annotated[Services, Depends(get_services)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
ScoreHistoryDep = Annotated[ScoreHistory, Depends(get_score_history)]

__all__ = [
    "PrincipalDep",
    "ScoreHistoryDep",
    "Services",
    "ServicesDep",
    "build_services",
    "carriage_of",
    "get_principal",
    "get_score_history",
    "get_services",
]
