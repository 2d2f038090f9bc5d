"""``/healthz`` (the process is alive) and ``/readyz`` (store and broker reachable)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from micromailer.api.deps import ServicesDep
from micromailer.api.schemas import LivenessOut, ReadinessOut

router = APIRouter(tags=["health"])

CHECK_TIMEOUT = 3.0


@router.get("/healthz", response_model=LivenessOut, summary="The process is alive")
async def read_liveness() -> LivenessOut:
    """Always `{"status": "ok"}` while the process serves: it reads nothing."""
    return LivenessOut()


@router.get(
    "/readyz",
    response_model=ReadinessOut,
    summary="Store and broker reachable",
    responses={
        200: {"description": "Both answered within 3 s."},
        503: {"model": ReadinessOut, "description": "The store or the broker did not answer; "
              "`store` and `broker` say which."},
    },
)
async def read_readiness(services: ServicesDep) -> JSONResponse:
    store, broker = await asyncio.gather(
        _check(services.store.ping), _check(services.publisher.ping)
    )
    ready = store == "ok" and broker == "ok"
    body = ReadinessOut(status="ready" if ready else "unavailable", store=store, broker=broker)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


async def _check(probe: Callable[[], None]) -> str:
    try:
        await asyncio.wait_for(run_in_threadpool(probe), CHECK_TIMEOUT)
    except TimeoutError:
        return "unreachable: no answer within 3 s"
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}"
    return "ok"


__all__ = ["router"]
