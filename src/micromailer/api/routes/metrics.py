"""``GET /metrics``: the relay's metrics in Prometheus's text format."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.openmetrics.exposition import (
    CONTENT_TYPE_LATEST as OPENMETRICS_CONTENT_TYPE,
)

from micromailer.api.responses import STORE_UNAVAILABLE

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "description": "The metrics: OpenMetrics when `Accept` asks for it, else "
                           "Prometheus's text format.",
            "content": {media_type: {"schema": {"type": "string"}}
                        for media_type in (CONTENT_TYPE_LATEST, OPENMETRICS_CONTENT_TYPE)},
        },
        **STORE_UNAVAILABLE,
    },
)
async def read_metrics(request: Request) -> Response:
    """Emails by status, provider tries by outcome and provider scores, read from the store
    and the health board that every process shares, and this process's CPU and memory.

    Scraping any API process gives the same relay figures. The format follows the
    `Accept` header, as Prometheus negotiates it: OpenMetrics when asked for, else text.
    """
    registry: CollectorRegistry = request.app.state.metrics_registry
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    body = await run_in_threadpool(encode, registry)
    return Response(body, headers={"content-type": content_type})


__all__ = ["router"]
