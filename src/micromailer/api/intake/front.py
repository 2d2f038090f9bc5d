"""``EmailIntake``: every ``POST /email``, answered in front of FastAPI's middleware stack."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from anyio import CapacityLimiter, to_thread
from sqlalchemy.exc import DBAPIError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from micromailer.api.errors import INTERNAL_ERROR, STORE_UNAVAILABLE, log_store_down
from micromailer.api.intake.answer import (
    IntakeRefused,
    send_accepted,
    send_refusal,
    send_replay,
)
from micromailer.api.intake.body import ClientGone, read_body
from micromailer.api.intake.checks import IntakeRequest
from micromailer.api.intake.form_fields import decode_multipart, decode_urlencoded
from micromailer.api.intake.head import BodyEncoding, RequestHead, read_head
from micromailer.api.intake.idempotency import KEY_TAKEN_OVER, requested_key
from micromailer.api.intake.json_fields import decode_json
from micromailer.delivery.carriage import MessageRefused
from micromailer.delivery.intake import Submission
from micromailer.domain.attempt import Submitter
from micromailer.domain.idempotency import Replay, ReservationLost
from micromailer.domain.validation import EmailRequest, InvalidEmailRequest, parse_email_request
from micromailer.logs import bind_email
from micromailer.security.principal import principal_of

if TYPE_CHECKING:  # api.deps imports this package's checks
    from micromailer.api.deps import Services

log = logging.getLogger(__name__)

T = TypeVar("T")

PATH = "/email"
#: Multipart file parts read as attachments, by field name: ``attachments`` are files,
#: ``inline`` inline images whose content id is their filename. A file anywhere else is
#: refused.
FILE_FIELDS = {"attachments": False, "inline": True}
#: The text fields validation reads: a file part under one of these names is refused.
TEXT_FIELDS = frozenset(
    {*EmailRequest.model_fields, "from"} - {"sender", "attachments"}
)
#: Bodies up to this size are decoded and validated on the event loop, in well under a
#: millisecond; larger ones (attachments) in a thread, at most PARSE_THREADS at once.
PARSE_ON_LOOP_MAX_BYTES = 64 * 1024
PARSE_THREADS = 2
_PARSE_THREADS = CapacityLimiter(PARSE_THREADS)


class EmailIntake:
    """Answer every ``POST /email`` (202 or a refusal); pass any other request to ``app``.

    ``app`` is the app's middleware stack; ``max_bytes`` the body limit, as ``BodySizeLimit``
    enforces it for the other routes.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            answer = await self._take(scope, receive)
        except IntakeRefused as refusal:
            await send_refusal(send, refusal)
        except ClientGone:
            log.info("POST /email: the client left before sending the whole body")
        except Exception:
            log.exception("unexpected error on POST /email")
            await send_refusal(send, IntakeRefused(500, INTERNAL_ERROR))
        else:
            if isinstance(answer, Replay):
                await send_replay(send, answer)
            else:
                await send_accepted(send, answer)

    async def _take(self, scope: Scope, receive: Receive) -> str | Replay:
        """The stored email's id, the first answer of its ``Idempotency-Key`` to give again,
        or the refusal of the first step that refuses it."""
        head = read_head(scope, self.max_bytes)
        body = await read_body(receive, self.max_bytes)
        services: Services = scope["app"].state.services
        headers = Headers(scope=scope)
        if services.intake_checks:
            request = IntakeRequest(headers, scope.get("client"), body)
            for check in services.intake_checks:
                await check(request)
        sender_domains = services.settings.sender_domain_list()
        if len(body) <= PARSE_ON_LOOP_MAX_BYTES:
            email_request = _parse(head, body, sender_domains)
        else:  # decoding megabytes of base64 would hold every other request up
            email_request = await to_thread.run_sync(
                _parse, head, body, sender_domains, limiter=_PARSE_THREADS
            )
        key = requested_key(headers)
        submission = _submission(scope, key)
        if key is None:
            return await _accept(services, email_request, submission)
        claim = await _store_call(
            services.idempotency.claim(submission.project, key, email_request,
                                       test=submission.test)
        )
        if isinstance(claim, Replay):
            return claim
        try:
            return await _accept(services, email_request, replace(submission, reservation=claim))
        except ReservationLost:
            raise IntakeRefused(409, KEY_TAKEN_OVER) from None
        except Exception:  # refused or failed: a corrected request may use the key
            await services.idempotency.release(claim)
            raise


async def _accept(services: Services, request: EmailRequest, submission: Submission) -> str:
    """Render, store and queue the email; its id, on the request's remaining log lines."""
    try:
        accepted = await _store_call(services.intake.accept(request, submission))
    except MessageRefused as exc:
        raise IntakeRefused(400, str(exc)) from None
    bind_email(accepted.email_id)
    return accepted.email_id


async def _store_call(call: Awaitable[T]) -> T:
    """``call``'s result; a 503 when the store cannot answer (then nothing was stored)."""
    try:
        return await call
    except DBAPIError as exc:
        log_store_down(exc)
        raise IntakeRefused(503, STORE_UNAVAILABLE, headers={"Retry-After": "5"}) from None


def _submission(scope: Scope, idempotency_key: str | None) -> Submission:
    """The email's project and test flag, from the key the gate found, and its audit trail."""
    principal = principal_of(scope)
    client = scope.get("client")
    submitter = Submitter(
        key_name=principal.key_name,
        client=str(client[0]) if client else None,
        idempotency_key=idempotency_key,
    )
    return Submission(principal.project, principal.test, submitter)


def _parse(head: RequestHead, body: bytes, sender_domains: list[str]) -> EmailRequest:
    """The validated request, or a 400 listing what is wrong."""
    try:
        return parse_email_request(_fields(head, body), sender_domains)
    except InvalidEmailRequest as exc:
        raise IntakeRefused(400, exc.message, exc.details) from None


def _fields(head: RequestHead, body: bytes) -> dict[str, object]:
    if head.encoding is BodyEncoding.JSON:
        return decode_json(body)
    if head.encoding is BodyEncoding.URLENCODED:
        return decode_urlencoded(body)
    return decode_multipart(head.content_type, body, TEXT_FIELDS, FILE_FIELDS)


__all__ = ["FILE_FIELDS", "PARSE_ON_LOOP_MAX_BYTES", "PATH", "EmailIntake"]
