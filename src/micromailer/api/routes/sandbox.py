"""``/sandbox``: the fake providers seen and steered through the API, in sandbox mode only.

The web page talks to its own origin only (its Content-Security-Policy says so), so the API
relays the few sandbox controls the page needs to the sandbox's ``/_sandbox`` control API at
``MICROMAILER_SANDBOX_URL``: each fake's state, an outage switch, and the captured messages.
Outside sandbox mode ``GET /sandbox`` says so and the other routes answer 404.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Path, Query

from micromailer.api.deps import ServicesDep
from micromailer.api.errors import ApiError
from micromailer.api.responses import BODY_TOO_LARGE, Responses, error
from micromailer.api.schemas import (
    OutageIn,
    SandboxMessageOut,
    SandboxOut,
    SandboxProviderOut,
)
from micromailer.config import KNOWN_PROVIDERS, Settings

router = APIRouter(prefix="/sandbox", tags=["sandbox"])

#: What an outage is: every request fails with 503, as a provider that is down answers.
OUTAGE_FAULTS: dict[str, Any] = {"failRate": 1.0, "status": 503}
TIMEOUT = 3.0

_SANDBOX_DOWN = error(502, "The sandbox at `MICROMAILER_SANDBOX_URL` did not answer.")
_ERRORS: Responses = {
    **error(404, "Sandbox mode is off, or the sandbox fakes no such provider."),
    **_SANDBOX_DOWN,
}
#: The fakes' names; any other answers 404.
ProviderName = Annotated[str, Path(
    description="A provider the sandbox fakes.", json_schema_extra={"enum": list(KNOWN_PROVIDERS)},
)]


@router.get(
    "",
    response_model=SandboxOut,
    summary="Sandbox mode and each fake provider's state",
    responses=_SANDBOX_DOWN,
)
async def read_sandbox(services: ServicesDep) -> SandboxOut:
    """Whether this service runs in sandbox mode (no credentials: fake providers) and, if so,
    each configured provider's fake: in outage or not, requests accepted and rejected."""
    settings = services.settings
    if not settings.sandbox_mode:
        return SandboxOut(enabled=False, url=None, providers=[])
    async with _sandbox(settings) as client:
        providers = await asyncio.gather(
            *(_provider_state(client, name) for name in settings.provider_names())
        )
    return SandboxOut(enabled=True, url=settings.sandbox_url, providers=list(providers))


@router.put(
    "/{provider}/outage",
    response_model=SandboxProviderOut,
    summary="Put a fake provider into outage, or back",
    responses={
        **error(400, "The body is not a JSON object with a boolean `outage`."),
        **BODY_TOO_LARGE,
        **_ERRORS,
    },
)
async def update_outage(
    provider: ProviderName, body: OutageIn, services: ServicesDep
) -> SandboxProviderOut:
    """`{"outage": true}`: the fake answers every request 503, as a provider that is down;
    `{"outage": false}`: it works again (any other fault setting is cleared too)."""
    _check(services.settings, provider)
    async with _sandbox(services.settings) as client:
        faults = OUTAGE_FAULTS if body.outage else {}
        await _call(client, "PUT", f"/_sandbox/{provider}/faults", json=faults)
        return await _provider_state(client, provider)


@router.get(
    "/{provider}/messages",
    response_model=list[SandboxMessageOut],
    summary="Messages a fake provider accepted, newest first",
    responses={**error(400, "`limit` is not an integer from 1 to 100."), **_ERRORS},
)
async def read_messages(
    provider: ProviderName,
    services: ServicesDep,
    limit: int = Query(10, ge=1, le=100, description="How many messages, 1 to 100."),
) -> list[SandboxMessageOut]:
    """What the fake captured: recipient, subject, message id and time received."""
    _check(services.settings, provider)
    async with _sandbox(services.settings) as client:
        messages = await _call(client, "GET", f"/_sandbox/{provider}/messages")
    return [SandboxMessageOut.model_validate(m) for m in reversed(messages[-limit:])]


def _check(settings: Settings, provider: str) -> None:
    if not settings.sandbox_mode:
        raise ApiError(
            404,
            "Sandbox mode is off: this service delivers through real providers, which "
            "cannot be inspected or put into outage from here.",
        )
    if provider not in KNOWN_PROVIDERS:
        raise ApiError(
            404, f"Unknown provider {provider!r}; the sandbox fakes {', '.join(KNOWN_PROVIDERS)}."
        )


@asynccontextmanager
async def _sandbox(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    assert settings.sandbox_url is not None, "sandbox mode (checked first) needs the sandbox URL"
    async with httpx.AsyncClient(base_url=settings.sandbox_url, timeout=TIMEOUT) as client:
        try:
            yield client
        except httpx.TransportError as exc:
            raise ApiError(
                502,
                f"The sandbox at {settings.sandbox_url} did not answer ({type(exc).__name__}); "
                "`micromailer run` starts it in sandbox mode.",
            ) from exc


async def _call(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Any:
    response = await client.request(method, path, **kwargs)
    if response.status_code >= 400:
        try:
            sentence = str(response.json()["error"])
        except (ValueError, KeyError, TypeError):
            sentence = f"The sandbox answered {response.status_code} to {method} {path}."
        raise ApiError(502 if response.status_code >= 500 else response.status_code, sentence)
    return response.json()


async def _provider_state(client: httpx.AsyncClient, name: str) -> SandboxProviderOut:
    faults, stats = await asyncio.gather(
        _call(client, "GET", f"/_sandbox/{name}/faults"),
        _call(client, "GET", f"/_sandbox/{name}/stats"),
    )
    fail_rate = float(faults.get("failRate", 0.0))
    return SandboxProviderOut(
        name=name,
        outage=fail_rate >= 1.0,
        fail_rate=fail_rate,
        accepted=int(stats.get("accepted", 0)),
        rejected=int(stats.get("rejected", 0)),
    )


__all__ = ["OUTAGE_FAULTS", "router"]
