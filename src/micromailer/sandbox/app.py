"""The sandbox app: every fake provider on one port, plus the ``/_sandbox`` control API."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from micromailer import __version__
from micromailer.api.routes import docs
from micromailer.api.routes.web import mount_static
from micromailer.sandbox import (
    brevo,
    mailgun,
    mandrill,
    postmark,
    resend,
    sendgrid,
    ses,
    smtp,
    sparkpost,
)
from micromailer.sandbox.capture import DEFAULT_CAPACITY, Clock, ProviderState, utc_now
from micromailer.sandbox.event_sender import EventSender
from micromailer.sandbox.faults import FaultInputError, FaultSettings, parse_fault_settings
from micromailer.security.hosts import HostPolicy
from micromailer.security.sites import SiteGuard

#: Fake provider name → factory of its routes. A new fake adds one line here.
PROVIDERS: dict[str, Callable[[ProviderState], APIRouter]] = {
    "sendgrid": sendgrid.make_router,
    "mandrill": mandrill.make_router,
    "mailgun": mailgun.make_router,
    "postmark": postmark.make_router,
    "ses": ses.make_router,
    "sparkpost": sparkpost.make_router,
    "brevo": brevo.make_router,
    "resend": resend.make_router,
    "smtp": smtp.make_router,
}


def create_sandbox_app(
    api_keys: dict[str, str] | None = None,
    seed: int | None = None,
    *,
    faults: Mapping[str, Any] | None = None,
    clock: Clock = utc_now,
    capacity: int = DEFAULT_CAPACITY,
    hosts: HostPolicy | None = None,
    events: EventSender | None = None,
) -> FastAPI:
    """Build the sandbox.

    ``api_keys`` maps a provider to the one key its fake accepts; without an entry (or with
    ``api_keys=None``) the fake accepts any non-empty key. ``seed`` makes the fault dice and
    the message ids repeatable. ``faults`` gives the starting fault settings, in the body
    format of ``PUT /_sandbox/{provider}/faults``: either one such object for every provider
    (``{"failRate": 0.1}``) or one per provider (``{"sendgrid": {"failRate": 0.1}}``); bad ones
    raise :class:`~micromailer.sandbox.faults.FaultInputError` (a ``ValueError``).

    As the API, the sandbox answers only the ``Host`` names of ``hosts`` (by default the
    localhost names) and no other site's page, so that a rebound DNS name or a page in the
    user's browser cannot drive it.

    ``events`` sends each accepted message's events back to the service (``event_sender.py``);
    the app owns it from then on: its shutdown, or :func:`close_sandbox_events`, closes it.
    """
    keys = api_keys or {}
    unknown = sorted(set(keys) - set(PROVIDERS))
    if unknown:
        raise ValueError(f"unknown sandbox provider(s) {', '.join(unknown)}")
    starting_faults = _starting_faults(faults or {})
    states = {
        name: ProviderState(
            name=name,
            api_key=keys.get(name),
            rng=random.Random(f"{seed}:{name}") if seed is not None else random.Random(),
            clock=clock,
            capacity=capacity,
            outbox=events,
        )
        for name in PROVIDERS
    }

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(close_sandbox_events, app)

    app = FastAPI(
        title="micromailer sandbox",
        version=__version__,
        description="Fake email providers with fault injection and capture.",
        # The API reference's pages and files, from the package (api/routes/docs.py).
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.events = events
    for name, settings in starting_faults.items():
        states[name].faults.configure(settings)
    app.state.sandbox = states
    for name, make_router in PROVIDERS.items():
        app.include_router(make_router(states[name]))
    app.include_router(_control_router(states))
    app.include_router(docs.router)
    mount_static(app)
    app.add_middleware(SiteGuard, hosts=hosts or HostPolicy.local(),
                       hosts_setting="`micromailer sandbox --allowed-hosts`")
    return app


def close_sandbox_events(app: FastAPI) -> None:
    """Stop the app's event sender, if it has one (events still waiting are not sent); for
    servers that run the app without its lifespan. Closing twice is harmless."""
    events: EventSender | None = getattr(app.state, "events", None)
    if events is not None:
        events.close()


def _starting_faults(faults: Mapping[str, Any]) -> dict[str, FaultSettings]:
    """Per-provider settings from either form of ``faults`` (see :func:`create_sandbox_app`)."""
    if faults and all(isinstance(value, Mapping) for value in faults.values()):
        unknown = sorted(set(faults) - set(PROVIDERS))
        if unknown:
            raise FaultInputError(f"Unknown sandbox provider(s) {', '.join(unknown)}.")
        return {name: parse_fault_settings(dict(value)) for name, value in faults.items()}
    shared = parse_fault_settings(dict(faults))
    return {name: shared for name in PROVIDERS}


def _unknown(provider: str) -> JSONResponse:
    known = ", ".join(PROVIDERS)
    return JSONResponse(
        {"error": f"Unknown provider {provider!r}; the sandbox fakes {known}."}, status_code=404
    )


async def _read_fault_settings(request: Request) -> FaultSettings:
    raw = await request.body()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise FaultInputError("The faults body is not valid JSON.") from None
    return parse_fault_settings(data)


def _control_router(states: dict[str, ProviderState]) -> APIRouter:
    router = APIRouter(prefix="/_sandbox", tags=["control"])

    @router.get("")
    async def read_sandbox() -> JSONResponse:
        return JSONResponse({"providers": list(states)})

    @router.post("/reset")
    async def reset_sandbox() -> JSONResponse:
        """Clear every provider's messages, counters and faults."""
        for state in states.values():
            state.reset()
        return JSONResponse({"providers": list(states)})

    @router.get("/{provider}/faults")
    async def read_faults(provider: str) -> JSONResponse:
        if provider not in states:
            return _unknown(provider)
        return JSONResponse(states[provider].faults.settings.to_json())

    @router.put("/{provider}/faults")
    async def update_faults(provider: str, request: Request) -> JSONResponse:
        if provider not in states:
            return _unknown(provider)
        try:
            settings = await _read_fault_settings(request)
        except FaultInputError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        states[provider].faults.configure(settings)
        return JSONResponse(settings.to_json())

    @router.get("/{provider}/messages")
    async def read_messages(provider: str) -> JSONResponse:
        if provider not in states:
            return _unknown(provider)
        return JSONResponse(states[provider].capture.messages_json())

    @router.delete("/{provider}/messages")
    async def delete_messages(provider: str) -> JSONResponse:
        """Forget the captured messages and zero the counters (faults stay)."""
        if provider not in states:
            return _unknown(provider)
        states[provider].capture.reset()
        return JSONResponse(states[provider].capture.stats())

    @router.get("/{provider}/stats")
    async def read_stats(provider: str) -> JSONResponse:
        if provider not in states:
            return _unknown(provider)
        return JSONResponse(states[provider].capture.stats())

    return router


__all__ = ["PROVIDERS", "close_sandbox_events", "create_sandbox_app"]
