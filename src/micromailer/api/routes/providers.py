"""``GET /providers``: the configured providers and their live scores."""

from __future__ import annotations

import time

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from micromailer.api.deps import ServicesDep
from micromailer.api.schemas import ProviderOut
from micromailer.health.snapshots import live_scores

router = APIRouter(tags=["providers"])


@router.get("/providers", response_model=list[ProviderOut], summary="Providers and live scores")
async def read_providers(services: ServicesDep) -> list[ProviderOut]:
    """Every configured provider, most preferred first, with its score right now."""
    saved = await run_in_threadpool(services.store.load_health)
    scores = live_scores(
        services.settings.provider_names(), services.strategy, saved, time.time()
    )
    return [ProviderOut.from_score(score) for score in scores]


__all__ = ["router"]
