"""``GET /providers``: the configured providers and their live scores."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from micromailer.api.deps import ServicesDep
from micromailer.api.errors import ApiError
from micromailer.api.schemas import ProviderOut
from micromailer.health.live import BoardUnavailableError, read_live_scores

router = APIRouter(tags=["providers"])

BOARD_UNAVAILABLE = "The shared health board (Redis) is unreachable right now; try again shortly."


@router.get("/providers", response_model=list[ProviderOut], summary="Providers and live scores")
async def read_providers(services: ServicesDep) -> list[ProviderOut]:
    """Every configured provider, most preferred first, with its score right now.

    From the shared board in Redis when ``MICROMAILER_REDIS_URL`` is set, else from the
    snapshot the worker publishes to the store.
    """
    try:
        scores = await run_in_threadpool(
            read_live_scores, services.settings, services.store.load_health, services.strategy
        )
    except BoardUnavailableError as exc:
        raise ApiError(503, BOARD_UNAVAILABLE) from exc
    return [ProviderOut.from_score(score) for score in scores]


__all__ = ["router"]
