"""``POST /email``, ``POST /emails`` (a batch), ``GET /email/{id}``, ``POST /email/{id}/retry``
and ``GET /emails`` (the most recent)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from micromailer.api.deps import PrincipalDep, ServicesDep
from micromailer.api.errors import ApiError
from micromailer.api.intake.steps import client_of
from micromailer.api.request_schema import batch_request_body, email_request_body
from micromailer.api.responses import (
    BODY_TOO_LARGE,
    IDEMPOTENCY_CONFLICT,
    IDEMPOTENCY_KEY_PARAMETER,
    STORE_UNAVAILABLE,
    error,
)
from micromailer.api.schemas import (
    BatchAccepted,
    EmailAccepted,
    EmailOut,
    EmailSummaryOut,
    NotFoundBody,
)
from micromailer.domain.attempt import Submitter
from micromailer.domain.batch import MAX_BATCH_ITEMS
from micromailer.logs import bind_email
from micromailer.store.retries import NotFailed

router = APIRouter(tags=["emails"])


@router.post(
    "/email",
    status_code=202,
    response_model=EmailAccepted,
    summary="Queue an email for delivery",
    responses={
        202: {
            "description": "Stored and queued; `Location` is the email's status. A retry with "
                           "the same `Idempotency-Key` and request gets this answer again.",
            "headers": {"Location": {"description": "`/email/{emailId}`",
                                     "schema": {"type": "string"}}},
        },
        **error(400, "The body is not a valid email (`error` says what to fix): a field "
                     "missing, empty, too long, of the wrong type or holding a refused "
                     "character; JSON that is malformed, not an object, nested too deeply or "
                     "repeats a key; a form that is not UTF-8."),
        **IDEMPOTENCY_CONFLICT,
        **BODY_TOO_LARGE,
        **error(415, "The `Content-Type` is not JSON or a form, or the body has a "
                     "`Content-Encoding` other than `identity`."),
        **STORE_UNAVAILABLE,
    },
    openapi_extra={"parameters": [IDEMPOTENCY_KEY_PARAMETER],
                   "requestBody": email_request_body()},
)
async def create_email() -> EmailAccepted:
    """Validate, render the Markdown `content`, store the email and queue it.

    The answer comes after the email is committed: a 202 is never lost.
    """
    # The operation as the OpenAPI document shows it. ``api/intake`` answers every
    # POST /email in front of the app, so no request reaches this function.
    raise RuntimeError("POST /email is answered by micromailer.api.intake.EmailIntake")


@router.post(
    "/emails",
    status_code=207,
    response_model=BatchAccepted,
    summary=f"Queue up to {MAX_BATCH_ITEMS} emails at once",
    responses={
        207: {
            "description": (
                "One result per item, in order: `202` with the stored email's `emailId`, or "
                "`400` with the sentence `POST /email` would have answered. The accepted "
                "emails were stored in one commit and queued; `accepted` and `refused` count "
                "them. Also when every item is refused (then nothing was stored). A retry with "
                "the same `Idempotency-Key` and body gets this answer again."
            ),
        },
        **error(400, f"The body is not a batch: not a JSON object with an `emails` list of 1 "
                     f"to {MAX_BATCH_ITEMS} items, or not valid JSON (`error` says what to "
                     "fix). Nothing was stored."),
        **IDEMPOTENCY_CONFLICT,
        **BODY_TOO_LARGE,
        **error(415, "The `Content-Type` is not JSON (a batch is JSON only), or the body has "
                     "a `Content-Encoding` other than `identity`."),
        **error(429, "The batch's accepted emails would go over the API key's rate limit "
                     "(each email beyond the first counts one request); nothing was stored."),
        **STORE_UNAVAILABLE,
    },
    openapi_extra={"parameters": [IDEMPOTENCY_KEY_PARAMETER],
                   "requestBody": batch_request_body()},
)
async def create_emails() -> BatchAccepted:
    """Validate each email on its own, as `POST /email` does; store the valid ones in one
    commit and queue them.

    The answer comes after the commit: every `202` in it is stored.
    """
    # As for POST /email: ``api/intake`` answers every POST /emails in front of the app.
    raise RuntimeError("POST /emails is answered by micromailer.api.intake.EmailIntake")


@router.get(
    "/email/{email_id}",
    response_model=EmailOut,
    summary="An email's status and every attempt",
    responses={
        404: {"model": NotFoundBody, "description": "No email has this id."},
        **STORE_UNAVAILABLE,
    },
)
async def read_email(
    services: ServicesDep,
    principal: PrincipalDep,
    email_id: str = Path(description="The id `POST /email` answered.",
                         json_schema_extra={"format": "uuid"}),
) -> Any:
    """Another project's email is answered as an unknown id: its existence is not told."""
    bind_email(email_id)
    view = await run_in_threadpool(services.store.get_email, email_id)
    if view is None or not principal.sees(view.project):
        return JSONResponse(
            NotFoundBody(email_id=email_id).model_dump(by_alias=True), status_code=404
        )
    return EmailOut.from_view(view)


@router.post(
    "/email/{email_id}/retry",
    status_code=202,
    response_model=EmailAccepted,
    summary="Retry a failed email: a new delivery cycle",
    responses={
        202: {
            "description": "Queued again, due now; `Location` is the email's status, where "
                           "`retries` counts the retries and each attempt names its `cycle`.",
            "headers": {"Location": {"description": "`/email/{emailId}`",
                                     "schema": {"type": "string"}}},
        },
        404: {"model": NotFoundBody, "description": "No email has this id."},
        **error(409, "The email is not `failed` (`error` names its status): only a failed "
                     "email can be retried, and of two retries at once only one starts a "
                     "cycle."),
        **STORE_UNAVAILABLE,
    },
)
async def retry_email(
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
    email_id: str = Path(description="The id `POST /email` answered.",
                         json_schema_extra={"format": "uuid"}),
) -> Any:
    """Queue a failed email again, as a new email is queued: its attempts are kept, new ones
    go on numbering from the last, and `MICROMAILER_MAX_ATTEMPTS` counts afresh. Another
    project's email is answered as an unknown id."""
    bind_email(email_id)
    submitter = Submitter(key_name=principal.key_name, client=client_of(request.scope))
    outcome = await run_in_threadpool(
        services.retries.start_cycle, email_id, principal.project, submitter,
        every_project=principal.admin,
    )
    if outcome is None:
        return JSONResponse(
            NotFoundBody(email_id=email_id).model_dump(by_alias=True), status_code=404
        )
    if isinstance(outcome, NotFailed):
        raise ApiError(409, outcome.sentence)
    services.intake.requeue(email_id)
    return JSONResponse(
        EmailAccepted(email_id=email_id).model_dump(by_alias=True), status_code=202,
        headers={"Location": f"/email/{email_id}"},
    )


@router.get(
    "/emails",
    response_model=list[EmailSummaryOut],
    summary="The most recent emails, newest first",
    responses={**error(400, "`limit` is not an integer from 1 to 100."), **STORE_UNAVAILABLE},
)
async def read_recent_emails(
    services: ServicesDep,
    principal: PrincipalDep,
    limit: int = Query(20, ge=1, le=100, description="How many emails, 1 to 100."),
) -> list[EmailSummaryOut]:
    """The latest emails of the key's project (every project's for an admin key) by creation
    time, with their status but not their attempts (``GET /email/{id}`` has those)."""
    project = None if principal.admin else principal.project
    views = await run_in_threadpool(services.store.recent_emails, limit, project)
    return [EmailSummaryOut.from_view(view) for view in views]


__all__ = ["router"]
