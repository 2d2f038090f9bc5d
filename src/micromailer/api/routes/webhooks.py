"""``POST /webhooks/{provider}``: a provider's events, verified by its own scheme, recorded."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from micromailer.api.deps import Services, ServicesDep
from micromailer.api.errors import ApiError
from micromailer.api.responses import STORE_UNAVAILABLE, error
from micromailer.store.base import utcnow
from micromailer.webhooks.base import Malformed, Unverified, WebhookRequest

log = logging.getLogger(__name__)

router = APIRouter(tags=["events"])

#: Largest webhook body read, in bytes: providers batch at most a few MiB of events.
MAX_WEBHOOK_BYTES = 5 * 1024 * 1024


class WebhookReceipt(BaseModel):
    """What became of a verified request's events."""

    received: int
    recorded: int
    #: Sent before (providers resend): kept once.
    duplicates: int
    #: Of no email here: ignored.
    unmatched: int


@router.post(
    "/webhooks/{provider}",
    response_model=WebhookReceipt,
    summary="A provider's delivery events",
    responses={
        **error(400, "The body is not the provider's event format."),
        **error(401, "The request is not verified as the provider's (signature, credentials "
                     "or certificate), or is a replay: nothing is stored."),
        **error(404, "No provider of this name sends events here."),
        **error(413, f"The body is over {MAX_WEBHOOK_BYTES // (1024 * 1024)} MiB."),
        **STORE_UNAVAILABLE,
    },
)
async def receive_events(
    request: Request,
    services: ServicesDep,
    provider: str = Path(description="The provider's name, as in `GET /providers`."),
) -> WebhookReceipt:
    """Verify the request with the provider's own scheme (docs/events.md), then keep each
    event once, matched to its email, and move the email's status forward."""
    if not services.webhooks.knows(provider):
        raise ApiError(404, f"No provider named {provider!r} sends events here; the "
                            f"providers with webhooks are: {', '.join(services.webhooks.names)}.")
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        raise ApiError(413, f"A webhook body may be at most {MAX_WEBHOOK_BYTES} bytes.")
    hook = WebhookRequest(
        url=str(request.url),
        headers={name.lower(): value for name, value in request.headers.items()},
        body=body,
    )
    try:
        received = await run_in_threadpool(services.webhooks.receive, provider, hook, utcnow())
    except Unverified as refused:
        log.warning("refused a %s webhook request: %s", provider, refused)
        raise ApiError(401, f"This request is not verified as coming from {provider}: its "
                            "signature, credentials or timestamp do not check out.") from None
    except Malformed as malformed:
        raise ApiError(400, f"The {provider} events could not be read: {malformed}") from None
    recorded = await run_in_threadpool(
        lambda: services.events.record(received.events, sandbox=received.sandbox,
                                       sandbox_mode=services.settings.sandbox_mode))
    if recorded.changes:
        log.info("%s events moved %d email(s)", provider, len(recorded.changes))
    if recorded.callbacks:
        await run_in_threadpool(_publish, services, recorded.callbacks)
    return WebhookReceipt(received=len(received.events), recorded=recorded.recorded,
                          duplicates=recorded.duplicates, unmatched=recorded.unmatched)


def _publish(services: Services, delivery_ids: list[str]) -> None:
    """Queue the callbacks the events made; if the broker is down, the sweeper will (they are
    committed), so the provider is not asked to send its events again."""
    try:
        services.callback_publisher.publish_many(delivery_ids)
    except Exception:
        log.warning("could not queue %d callback deliveries; the sweeper will",
                    len(delivery_ids), exc_info=True)


__all__ = ["MAX_WEBHOOK_BYTES", "router"]
