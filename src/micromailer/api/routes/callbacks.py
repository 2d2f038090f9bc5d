"""``/callbacks``: a project's URLs told of its emails' events, and their delivery logs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Path, Query, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from micromailer.api.callback_schemas import (
    CallbackCreated,
    CallbackDeliveryOut,
    CallbackIn,
    CallbackNotFoundBody,
    CallbackOut,
)
from micromailer.api.deps import PrincipalDep, ServicesDep
from micromailer.api.errors import ApiError
from micromailer.api.responses import BODY_TOO_LARGE, STORE_UNAVAILABLE, Responses, error
from micromailer.callbacks.events import UnknownEventError, parse_events
from micromailer.callbacks.tokens import new_secret
from micromailer.callbacks.urls import (
    RefusedUrlError,
    check_addresses,
    parse_callback_url,
    resolve,
)
from micromailer.security.principal import Principal
from micromailer.store.callbacks import CallbackView

router = APIRouter(tags=["callbacks"])

#: Seconds a registration waits for the URL's host to be looked up.
RESOLVE_TIMEOUT = 5.0

_NOT_FOUND: Responses = {404: {"model": CallbackNotFoundBody,
                    "description": "No callback of this project has this id."}}
_CALLBACK_ID = Path(description="The id `POST /callbacks` answered.",
                    json_schema_extra={"format": "uuid"})


@router.post(
    "/callbacks",
    status_code=201,
    response_model=CallbackCreated,
    summary="Register a URL to be told of the project's emails' events",
    responses={
        201: {"description": "Registered. `secret` is shown this once: keep it to verify "
                             "the signatures.",
              "headers": {"Location": {"description": "`/callbacks/{id}`",
                                       "schema": {"type": "string"}}}},
        **error(400, "`url` is not an absolute http(s) URL, carries a user name or password, "
                     "does not resolve, or leads to a loopback, private, link-local or other "
                     "non-public address (unless `MICROMAILER_CALLBACK_ALLOW_PRIVATE=true`); "
                     "or `events` is empty or names an unknown event. `error` says which."),
        **BODY_TOO_LARGE,
        **STORE_UNAVAILABLE,
    },
)
async def create_callback(
    body: CallbackIn, services: ServicesDep, principal: PrincipalDep, response: Response
) -> CallbackCreated:
    """Every event of the key's project's emails that `events` names is POSTed to `url` as
    JSON, signed as Standard Webhooks (`webhook-id`, `webhook-timestamp`,
    `webhook-signature`), and retried for more than a day until it answers 2xx
    (docs/callbacks.md)."""
    try:
        events = parse_events(body.events)
        target = parse_callback_url(body.url)
    except (UnknownEventError, RefusedUrlError) as exc:
        raise ApiError(400, str(exc)) from None
    try:
        addresses = await asyncio.wait_for(
            run_in_threadpool(resolve, target, services.callback_resolver), RESOLVE_TIMEOUT
        )
        check_addresses(target, addresses,
                        allow_private=services.settings.callback_allow_private)
    except RefusedUrlError as exc:
        raise ApiError(400, str(exc)) from None
    except TimeoutError:
        raise ApiError(400, f"`url`'s host {target.host} could not be resolved in "
                            f"{RESOLVE_TIMEOUT:g} s; check it.") from None
    secret = new_secret()
    view = await run_in_threadpool(
        services.callbacks.add, principal.project, str(target.url), events, secret
    )
    response.headers["Location"] = f"/callbacks/{view.id}"
    return CallbackCreated.from_new(view, secret)


@router.get(
    "/callbacks",
    response_model=list[CallbackOut],
    summary="The project's callbacks, oldest first (without their secrets)",
    responses={**STORE_UNAVAILABLE},
)
async def read_callbacks(services: ServicesDep, principal: PrincipalDep) -> list[CallbackOut]:
    """The callbacks of the key's project; a secret is never shown again."""
    views = await run_in_threadpool(services.callbacks.list_callbacks, principal.project)
    return [CallbackOut.from_view(view) for view in views]


@router.get(
    "/callbacks/{callback_id}",
    response_model=CallbackOut,
    summary="One callback (without its secret)",
    responses={**_NOT_FOUND, **STORE_UNAVAILABLE},
)
async def read_callback(
    services: ServicesDep, principal: PrincipalDep, callback_id: str = _CALLBACK_ID
) -> Any:
    """Another project's callback is answered as an unknown id."""
    view = await _visible(services.callbacks.get, principal, callback_id)
    if view is None:
        return _not_found(callback_id)
    return CallbackOut.from_view(view)


@router.delete(
    "/callbacks/{callback_id}",
    status_code=204,
    response_class=Response,
    summary="Stop a callback",
    responses={204: {"description": "Deleted: nothing more is sent to it, its pending "
                                    "deliveries end `failed`."},
               **_NOT_FOUND, **STORE_UNAVAILABLE},
)
async def delete_callback(
    services: ServicesDep, principal: PrincipalDep, callback_id: str = _CALLBACK_ID
) -> Response:
    """Its secret is wiped; its log is no longer readable."""
    view = await _visible(services.callbacks.get, principal, callback_id)
    if view is None or not await run_in_threadpool(services.callbacks.delete, callback_id):
        return _not_found(callback_id)
    return Response(status_code=204)


@router.get(
    "/callbacks/{callback_id}/deliveries",
    response_model=list[CallbackDeliveryOut],
    summary="A callback's delivery log, newest first",
    responses={**_NOT_FOUND, **error(400, "`limit` is not an integer from 1 to 500."),
               **STORE_UNAVAILABLE},
)
async def read_deliveries(
    services: ServicesDep,
    principal: PrincipalDep,
    callback_id: str = _CALLBACK_ID,
    limit: int = Query(50, ge=1, le=500, description="How many deliveries, 1 to 500."),
) -> Any:
    """Each event sent or to be sent to this callback: its status, the tries so far, the
    receiver's last answer and when the next try is due."""
    view = await _visible(services.callbacks.get, principal, callback_id)
    if view is None:
        return _not_found(callback_id)
    deliveries = await run_in_threadpool(services.callbacks.deliveries, callback_id, limit)
    return [CallbackDeliveryOut.from_view(delivery) for delivery in deliveries]


async def _visible(
    get: Callable[[str], CallbackView | None], principal: Principal, callback_id: str
) -> CallbackView | None:
    """The callback if it exists and the caller may see it (its project's, or an admin)."""
    view = await run_in_threadpool(get, callback_id)
    if view is None or not principal.sees(view.project):
        return None
    return view


def _not_found(callback_id: str) -> JSONResponse:
    return JSONResponse(
        CallbackNotFoundBody(callback_id=callback_id).model_dump(by_alias=True), status_code=404
    )


__all__ = ["router"]
