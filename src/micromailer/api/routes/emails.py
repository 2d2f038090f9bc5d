"""``POST /email``, ``GET /email/{id}`` and ``GET /emails`` (the most recent)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from micromailer.api.deps import PrincipalDep, ServicesDep
from micromailer.api.request_schema import email_request_body
from micromailer.api.responses import (
    BODY_TOO_LARGE,
    IDEMPOTENCY_CONFLICT,
    IDEMPOTENCY_KEY_PARAMETER,
    STORE_UNAVAILABLE,
    error,
)
from micromailer.api.schemas import (
    EmailAccepted,
    EmailOut,
    EmailSummaryOut,
    NotFoundBody,
)
from micromailer.logs import bind_email

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
