"""The FastAPI app factory: nothing is built at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI
from starlette.types import ASGIApp

from micromailer import __version__
from micromailer.api.body_limit import BodySizeLimit
from micromailer.api.deps import Services, build_services
from micromailer.api.errors import install_error_handlers
from micromailer.api.gate import KeyGate
from micromailer.api.intake import EmailIntake
from micromailer.api.metrics import RelayCollector, metrics_registry
from micromailer.api.openapi import install_openapi
from micromailer.api.routes import (
    callbacks,
    docs,
    emails,
    health,
    metrics,
    preview,
    providers,
    sandbox,
    suppressions,
    web,
    webhooks,
)
from micromailer.api.score_history import ReadScores, ScoreHistory, score_history_lifespan
from micromailer.api.worker_metrics import WorkerMetricsRelay
from micromailer.config import Settings
from micromailer.security.sites import guard_sites

log = logging.getLogger(__name__)


class RelayApp(FastAPI):
    """FastAPI with the security gates and :class:`EmailIntake` in front of its whole
    middleware stack.

    Every request first passes the site checks (``Host``, other sites, CORS) and the key gate
    (API key, project, rate limit). Then every ``POST /email``, whatever its encoding, is
    answered by the intake (``api/intake/``); any other request goes through FastAPI's layers
    to its route, as in a plain FastAPI app.
    """

    def __init__(self, *, max_body_bytes: int, **options: Any) -> None:
        super().__init__(**options)
        self.max_body_bytes = max_body_bytes

    def build_middleware_stack(self) -> ASGIApp:
        services: Services = self.state.services
        intake = EmailIntake(super().build_middleware_stack(), self.max_body_bytes)
        gate = KeyGate(intake, services.keys, services.rate_limiter, services.audit)
        return guard_sites(gate, services.settings)


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> FastAPI:
    """The HTTP API for ``settings`` (read from the environment when not given)."""
    settings = settings or Settings()
    services = services or build_services(settings)
    app = RelayApp(
        max_body_bytes=settings.max_body_bytes,
        title="micromailer",
        version=__version__,
        description=(
            "Transactional email relay: POST an email, it is stored, queued and delivered "
            "through the healthiest provider, failing over when one errors."
        ),
        lifespan=_lifespan,
        # /docs and /redoc are routes/docs.py's: served from the package, not from a CDN.
        docs_url=None,
        redoc_url=None,
        # No OpenTelemetry provider is configured here; left on, FastAPI looks for one on
        # every request (a tenth of the API's CPU under load).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.services = services
    app.state.score_history = ScoreHistory()
    relay = RelayCollector(services.stats.count_by_status, services.stats.count_tries,
                           services.scores, services.stats.backlog)
    worker_url = settings.worker_metrics_url
    app.state.worker_metrics = WorkerMetricsRelay(worker_url) if worker_url else None
    app.state.metrics_registry = metrics_registry(
        relay, *([app.state.worker_metrics] if worker_url else [])
    )
    install_error_handlers(app)
    install_openapi(app, settings.sender_domain_list())
    app.include_router(emails.router)
    app.include_router(callbacks.router)
    app.include_router(providers.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(preview.router)
    app.include_router(sandbox.router)
    app.include_router(suppressions.router)
    app.include_router(webhooks.router)
    app.include_router(web.router)
    app.include_router(docs.router)
    web.mount_static(app)
    # For every other route; EmailIntake, in front of this stack, enforces the same limit.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.sandbox_mode:
        log.warning(
            "SANDBOX MODE: no provider credentials are set; emails go to the local fake "
            "providers at %s and reach nobody.", settings.sandbox_url,
        )
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Sample the scores while serving; on the way out, publish what was stored."""
    async with score_history_lifespan(_live_scores_reader)(app):
        try:
            yield
        finally:
            await app.state.services.intake.close()
            await to_thread.run_sync(app.state.services.idempotency.close)
            await to_thread.run_sync(app.state.services.audit.close)
            await app.state.services.rate_limiter.close()
            app.state.services.scores.close()
            if app.state.worker_metrics is not None:
                app.state.worker_metrics.close()


def _live_scores_reader(app: FastAPI) -> ReadScores:
    """What the score history samples: the scores ``GET /providers`` shows."""
    services: Services = app.state.services
    return services.scores


__all__ = ["RelayApp", "create_app"]
