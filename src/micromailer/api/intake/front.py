"""``EmailIntake``: every ``POST /email`` and ``POST /emails``, answered in front of FastAPI's
middleware stack."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from micromailer.api.errors import INTERNAL_ERROR
from micromailer.api.intake.answer import (
    Answer,
    IntakeRefused,
    send_accepted,
    send_refusal,
    send_replay,
)
from micromailer.api.intake.batch import BATCH_PATH, take_batch
from micromailer.api.intake.body import ClientGone, read_body
from micromailer.api.intake.form_fields import decode_multipart, decode_urlencoded
from micromailer.api.intake.head import BodyEncoding, RequestHead, read_head
from micromailer.api.intake.idempotency import KEY_TAKEN_OVER, requested_key
from micromailer.api.intake.json_fields import decode_json
from micromailer.api.intake.steps import (
    PARSE_ON_LOOP_MAX_BYTES,
    off_the_loop,
    run_checks,
    services_of,
    store_call,
    submission_of,
)
from micromailer.delivery.carriage import MessageRefused
from micromailer.delivery.intake import Submission
from micromailer.domain.idempotency import Replay, ReservationLost
from micromailer.domain.validation import EmailRequest, InvalidEmailRequest, parse_email_request
from micromailer.logs import bind_email

if TYPE_CHECKING:  # api.deps imports this package's checks
    from micromailer.api.deps import Services

log = logging.getLogger(__name__)

PATH = "/email"
#: Multipart file parts read as attachments, by field name: ``attachments`` are files,
#: ``inline`` inline images whose content id is their filename. A file anywhere else is
#: refused.
FILE_FIELDS = {"attachments": False, "inline": True}
#: The text fields validation reads: a file part under one of these names is refused.
TEXT_FIELDS = frozenset(
    {*EmailRequest.model_fields, "from"} - {"sender", "attachments"}
)

#: Takes one request (its scope, its body's stream, the body limit) to its answer, or raises
#: the refusal of the first step that refuses it.
Take = Callable[[Scope, Receive, int], Awaitable[Answer]]


class EmailIntake:
    """Answer every ``POST /email`` (202 or a refusal) and ``POST /emails`` (207 or a
    refusal); pass any other request to ``app``.

    ``app`` is the app's middleware stack; ``max_bytes`` the body limit, as ``BodySizeLimit``
    enforces it for the other routes.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._takes: dict[str, Take] = {PATH: take_email, BATCH_PATH: take_batch}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        take = (self._takes.get(scope["path"])
                if scope["type"] == "http" and scope["method"] == "POST" else None)
        if take is None:
            await self.app(scope, receive, send)
            return
        try:
            answer = await take(scope, receive, self.max_bytes)
        except IntakeRefused as refusal:
            await send_refusal(send, refusal)
        except ClientGone:
            log.info("POST %s: the client left before sending the whole body", scope["path"])
        except Exception:
            log.exception("unexpected error on POST %s", scope["path"])
            await send_refusal(send, IntakeRefused(500, INTERNAL_ERROR))
        else:
            await answer(send)


async def take_email(scope: Scope, receive: Receive, max_bytes: int) -> Answer:
    """``POST /email``: the 202 of the stored email, or the first answer of its
    ``Idempotency-Key`` to give again."""
    taken = await _take(scope, receive, max_bytes)
    if isinstance(taken, Replay):
        return partial(send_replay, replay=taken)
    return partial(send_accepted, email_id=taken)


async def _take(scope: Scope, receive: Receive, max_bytes: int) -> str | Replay:
    """The stored email's id, the first answer of its ``Idempotency-Key`` to give again,
    or the refusal of the first step that refuses it."""
    head = read_head(scope, max_bytes)
    body = await read_body(receive, max_bytes)
    services = services_of(scope)
    headers = Headers(scope=scope)
    await run_checks(services, scope, headers, body)
    sender_domains = services.settings.sender_domain_list()
    if len(body) <= PARSE_ON_LOOP_MAX_BYTES:
        email_request = _parse(head, body, sender_domains)
    else:  # decoding megabytes of base64 would hold every other request up
        email_request = await off_the_loop(_parse, head, body, sender_domains)
    key = requested_key(headers)
    submission = submission_of(scope, key)
    if key is None:
        return await _accept(services, email_request, submission)
    claim = await store_call(
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
        accepted = await store_call(services.intake.accept(request, submission))
    except MessageRefused as exc:
        raise IntakeRefused(400, str(exc)) from None
    bind_email(accepted.email_id)
    return accepted.email_id


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


__all__ = ["FILE_FIELDS", "PARSE_ON_LOOP_MAX_BYTES", "PATH", "TEXT_FIELDS", "EmailIntake"]
