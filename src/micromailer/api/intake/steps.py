"""The steps ``POST /email`` and ``POST /emails`` share: the intake checks, who is sending,
a store call's 503, and the threads that decode large bodies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar, TypeVarTuple

from anyio import CapacityLimiter, to_thread
from sqlalchemy.exc import DBAPIError
from starlette.datastructures import Headers
from starlette.types import Scope

from micromailer.api.errors import STORE_UNAVAILABLE, log_store_down
from micromailer.api.intake.answer import IntakeRefused
from micromailer.api.intake.checks import IntakeRequest
from micromailer.delivery.intake import Submission
from micromailer.domain.attempt import Submitter
from micromailer.security.principal import principal_of

if TYPE_CHECKING:  # api.deps imports this package's checks
    from micromailer.api.deps import Services

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

#: Bodies up to this size are decoded and validated on the event loop, in well under a
#: millisecond; larger ones (attachments) in a thread, at most PARSE_THREADS at once.
PARSE_ON_LOOP_MAX_BYTES = 64 * 1024
PARSE_THREADS = 2
_PARSE_THREADS = CapacityLimiter(PARSE_THREADS)


def services_of(scope: Scope) -> Services:
    services: Services = scope["app"].state.services
    return services


async def run_checks(services: Services, scope: Scope, headers: Headers, body: bytes) -> None:
    """Every intake check, in order (``checks.py``); the first refusal is raised."""
    if services.intake_checks:
        request = IntakeRequest(headers, scope.get("client"), body)
        for check in services.intake_checks:
            await check(request)


async def off_the_loop(parse: Callable[[*Ts], T], *args: *Ts) -> T:
    """``parse(*args)`` in one of the parse threads: decoding megabytes would hold every
    other request up."""
    return await to_thread.run_sync(parse, *args, limiter=_PARSE_THREADS)


async def store_call(call: Awaitable[T]) -> T:
    """``call``'s result; a 503 when the store cannot answer (then nothing was stored)."""
    try:
        return await call
    except DBAPIError as exc:
        log_store_down(exc)
        raise IntakeRefused(503, STORE_UNAVAILABLE, headers={"Retry-After": "5"}) from None


def submission_of(scope: Scope, idempotency_key: str | None) -> Submission:
    """The emails' project and test flag, from the key the gate found, and their audit trail."""
    principal = principal_of(scope)
    return Submission(principal.project, principal.test, Submitter(
        key_name=principal.key_name,
        client=client_of(scope),
        idempotency_key=idempotency_key,
    ))


def client_of(scope: Scope) -> str | None:
    """The client's address as the server saw it (through trusted proxies)."""
    client = scope.get("client")
    return str(client[0]) if client else None


__all__ = [
    "PARSE_ON_LOOP_MAX_BYTES",
    "PARSE_THREADS",
    "client_of",
    "off_the_loop",
    "run_checks",
    "services_of",
    "store_call",
    "submission_of",
]
