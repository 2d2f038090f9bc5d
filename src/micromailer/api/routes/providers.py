"""``GET /providers`` (the configured providers and their live scores) and
``GET /providers/history`` (their scores over the last minutes, for the web page's chart)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from micromailer.api.deps import ScoreHistoryDep, ServicesDep
from micromailer.api.errors import ApiError
from micromailer.api.responses import error
from micromailer.api.schemas import ProviderOut, ScoreHistoryOut, ScoreSampleOut
from micromailer.api.score_history import CAPACITY, SAMPLE_INTERVAL
from micromailer.health.live import BoardUnavailableError

router = APIRouter(tags=["providers"])

BOARD_UNAVAILABLE = "The shared health board (Redis) is unreachable right now; try again shortly."


@router.get(
    "/providers",
    response_model=list[ProviderOut],
    summary="Providers and live scores",
    responses=error(503, "The shared health board (Redis) or the store is unreachable."),
)
async def read_providers(services: ServicesDep) -> list[ProviderOut]:
    """Every configured provider, most preferred first, with its score right now.

    From the shared board in Redis when ``MICROMAILER_REDIS_URL`` is set, else from the
    snapshot the worker publishes to the store.
    """
    try:
        scores = await run_in_threadpool(services.scores)
    except BoardUnavailableError as exc:
        raise ApiError(503, BOARD_UNAVAILABLE) from exc
    return [ProviderOut.from_score(score) for score in scores]


@router.get(
    "/providers/history",
    response_model=ScoreHistoryOut,
    summary="Provider scores over the last minutes",
    responses=error(400, "`seconds` is not a number over 0 and at most "
                         f"{CAPACITY * SAMPLE_INTERVAL:g}."),
)
async def read_provider_history(
    services: ServicesDep,
    history: ScoreHistoryDep,
    seconds: float = Query(
        300, gt=0, le=CAPACITY * SAMPLE_INTERVAL, description="How far back, in seconds."
    ),
) -> ScoreHistoryOut:
    """Every provider's score, sampled by this API process once a second.

    The history is kept in this process's memory: it starts when the process starts (see
    `startedAt`), holds the last 15 minutes, and each API process keeps its own. A sample
    the process could not read (Redis down) is missing, not invented.
    """
    return ScoreHistoryOut(
        interval_seconds=SAMPLE_INTERVAL,
        started_at=history.started_at,
        providers=services.settings.provider_names(),
        samples=[ScoreSampleOut(at=s.at, scores=s.scores) for s in history.since(seconds)],
    )


__all__ = ["router"]
