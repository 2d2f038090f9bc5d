"""``POST /email``, ``GET /email/{id}`` and ``GET /emails`` (the most recent)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from micromailer.api.deps import ServicesDep
from micromailer.api.schemas import (
    EmailAccepted,
    EmailOut,
    EmailSummaryOut,
    ErrorBody,
    NotFoundBody,
)

router = APIRouter(tags=["emails"])

_FIELDS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["to", "subject", "content"],
    "properties": {
        "to": {"type": "string", "format": "email", "maxLength": 254},
        "to_name": {"type": "string", "maxLength": 200},
        "subject": {"type": "string", "minLength": 1, "maxLength": 998},
        "content": {"type": "string", "minLength": 1, "description": "Markdown"},
    },
}
_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            media_type: {"schema": _FIELDS_SCHEMA}
            for media_type in (
                "application/json", "application/x-www-form-urlencoded", "multipart/form-data"
            )
        },
    }
}


@router.post(
    "/email",
    status_code=202,
    response_model=EmailAccepted,
    summary="Queue an email for delivery",
    responses={
        400: {"model": ErrorBody, "description": "Invalid input; `error` says what to fix."},
        413: {"model": ErrorBody, "description": "The body is over 1 MiB."},
        415: {"model": ErrorBody, "description": "Unsupported Content-Type."},
        503: {"model": ErrorBody, "description": "The store is down; nothing was saved."},
    },
    openapi_extra=_REQUEST_BODY,
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
    responses={404: {"model": NotFoundBody, "description": "No email has this id."}},
)
async def read_email(email_id: str, services: ServicesDep) -> Any:
    view = await run_in_threadpool(services.store.get_email, email_id)
    if view is None:
        return JSONResponse(
            NotFoundBody(email_id=email_id).model_dump(by_alias=True), status_code=404
        )
    return EmailOut.from_view(view)


@router.get(
    "/emails",
    response_model=list[EmailSummaryOut],
    summary="The most recent emails, newest first",
    responses={400: {"model": ErrorBody, "description": "`limit` out of range."}},
)
async def read_recent_emails(
    services: ServicesDep,
    limit: int = Query(20, ge=1, le=100, description="How many emails, 1 to 100."),
) -> list[EmailSummaryOut]:
    """The latest emails by creation time, with their status but not their attempts
    (``GET /email/{id}`` has those)."""
    views = await run_in_threadpool(services.store.recent_emails, limit)
    return [EmailSummaryOut.from_view(view) for view in views]


__all__ = ["router"]
