"""Fake SendGrid: ``POST /v3/mail/send`` with SendGrid's auth, validation and error format."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from micromailer.sandbox.capture import CapturedMessage, ProviderState
from micromailer.sandbox.simulator import Simulation, simulate

SEND_PATH = "/v3/mail/send"
_HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"

#: ``(message, field)`` pairs of a SendGrid error answer.
Errors = list[tuple[str, str | None]]

#: Texts of SendGrid's own error answers, by status, for injected faults.
FAULT_MESSAGES: dict[int, str] = {
    400: "Bad Request",
    401: "authorization required",
    403: "access forbidden",
    404: "not found",
    405: "method not allowed",
    413: "content too large",
    429: "too many requests",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


def error_response(
    status: int, errors: Errors, headers: dict[str, str] | None = None
) -> JSONResponse:
    """SendGrid's error body: ``{"errors": [{"message", "field", "help"}]}``."""
    body = {
        "errors": [
            {
                "message": message,
                "field": field,
                "help": f"{_HELP}#message.{field}" if field else None,
            }
            for message, field in errors
        ]
    }
    return JSONResponse(body, status_code=status, headers=headers)


#: SendGrid's own validation messages (its "mail send errors" page), by rule.
MESSAGES: dict[str, str] = {
    "personalizations": "The personalizations field is required and must have at least one "
    "personalization.",
    "to": "The to array is required for all personalization objects, and must have at least "
    "one email object with a valid email address.",
    "address": "Does not contain a valid address.",
    "from": "The from object must be provided for every email send. It is an object that "
    "requires the email parameter, but may also contain a name parameter.",
    "subject": "The subject is required. You can get around this requirement if you use a "
    "template with a subject defined or if every personalization has a subject defined.",
    "content": "Unless a valid template_id is provided, the content parameter is required. "
    "There must be at least one defined content block.",
    "value": "The content value must be a string at least one character in length.",
    "once": "If present, text/plain and text/html may only be provided once.",
    "order": "If present, text/plain content must be first, followed by text/html, followed "
    "by any other content.",
}


def validate_mail(body: Any) -> Errors:
    """The 400 errors SendGrid would list for this body (all of them, as SendGrid does)."""
    if not isinstance(body, dict):
        return [("Bad Request", None)]
    errors: Errors = []
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        errors.append((MESSAGES["personalizations"], "personalizations"))
        personalizations = []
    for index, envelope in enumerate(personalizations):
        to = envelope.get("to") if isinstance(envelope, dict) else None
        if not isinstance(to, list) or not to:
            errors.append((MESSAGES["to"], f"personalizations.{index}.to"))
            continue
        for position, recipient in enumerate(to):
            email = recipient.get("email") if isinstance(recipient, dict) else None
            if not _looks_like_address(email):
                field = f"personalizations.{index}.to.{position}.email"
                errors.append((MESSAGES["address"], field))
    sender = body.get("from")
    if not isinstance(sender, dict) or not _looks_like_address(sender.get("email")):
        errors.append((MESSAGES["from"], "from"))
    subject = body.get("subject")
    envelope_subjects = all(isinstance(p, dict) and p.get("subject") for p in personalizations)
    if not (isinstance(subject, str) and subject) and not (personalizations and envelope_subjects):
        errors.append((MESSAGES["subject"], "subject"))
    errors.extend(_content_errors(body))
    return errors


def _content_errors(body: dict[str, Any]) -> Errors:
    content = body.get("content")
    if body.get("template_id") and content is None:
        return []
    if not isinstance(content, list) or not content:
        return [(MESSAGES["content"], "content")]
    errors: Errors = []
    types: list[str] = []
    for index, block in enumerate(content):
        if not isinstance(block, dict) or not block.get("type") or not block.get("value"):
            errors.append((MESSAGES["value"], f"content.{index}.value"))
            continue
        types.append(str(block["type"]))
    if types.count("text/plain") > 1 or types.count("text/html") > 1:
        errors.append((MESSAGES["once"], "content"))
    if "text/plain" in types and "text/html" in types and types.index("text/plain") > 0:
        errors.append((MESSAGES["order"], "content"))
    return errors


def _looks_like_address(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    local, at, domain = value.rpartition("@")
    return bool(local and at and domain) and " " not in value


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _bearer_key(request: Request) -> str | None:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" and key.strip() else None


def _recipient_fields(body: dict[str, Any]) -> list[tuple[str, str]]:
    """Each ``to`` address of a valid body with the field SendGrid's errors name it by."""
    return [
        (recipient["email"], f"personalizations.{index}.to.{position}.email")
        for index, envelope in enumerate(body["personalizations"])
        for position, recipient in enumerate(envelope["to"])
    ]


def simulated_refusal(simulation: Simulation, recipients: list[tuple[str, str]]) -> Response | None:
    """SendGrid's answer to the simulator's reserved recipients, if they change it: a 503 for
    ``temp-fail@``, the 400 SendGrid gives an address it refuses for ``perm-fail@``."""
    if simulation.unavailable:
        return error_response(503, [(FAULT_MESSAGES[503], None)])
    refused: Errors = [
        (MESSAGES["address"], field) for email, field in recipients if simulation.refuses(email)
    ]
    return error_response(400, refused) if refused else None


def _captured(state: ProviderState, body: dict[str, Any], message_id: str) -> list[CapturedMessage]:
    content = {block.get("type"): block.get("value") for block in body.get("content") or []}
    sender = body["from"]
    received_at = state.clock()
    captured = []
    for envelope in body["personalizations"]:
        metadata = {**_object(body.get("custom_args")), **_object(envelope.get("custom_args"))}
        for recipient in envelope["to"]:
            captured.append(
                CapturedMessage(
                    message_id=message_id,
                    to=recipient["email"],
                    to_name=recipient.get("name"),
                    from_email=sender.get("email"),
                    from_name=sender.get("name"),
                    subject=envelope.get("subject") or body.get("subject"),
                    html=content.get("text/html"),
                    text=content.get("text/plain"),
                    metadata=metadata,
                    received_at=received_at,
                )
            )
    return captured


def make_router(state: ProviderState) -> APIRouter:
    """The fake's routes, bound to its state."""
    router = APIRouter(tags=["sendgrid"])

    @router.post(SEND_PATH)
    async def send_mail(request: Request) -> Response:
        await state.faults.delay()
        fault = state.faults.roll()
        if fault is not None:
            state.capture.count_rejected()
            headers = {}
            if fault.status == 429:
                headers = {"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0"}
                if fault.retry_after is not None:
                    headers["Retry-After"] = f"{fault.retry_after:g}"
            message = FAULT_MESSAGES.get(fault.status, "injected fault")
            return error_response(fault.status, [(message, None)], headers)
        if not state.key_matches(_bearer_key(request)):
            state.capture.count_rejected()
            if _bearer_key(request) is None:
                return error_response(401, [("authorization required", None)])
            return error_response(
                401, [("The provided authorization grant is invalid, expired, or revoked", None)]
            )
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        errors = validate_mail(body)
        if errors:
            state.capture.count_rejected()
            return error_response(400, errors)
        recipients = _recipient_fields(body)
        refusal = simulated_refusal(
            await simulate(email for email, _ in recipients), recipients
        )
        if refusal is not None:
            state.capture.count_rejected()
            return refusal
        message_id = state.token_id()
        for captured in _captured(state, body, message_id):
            state.capture.record(captured)
        return Response(status_code=202, headers={"X-Message-Id": message_id})

    return router


__all__ = [
    "FAULT_MESSAGES",
    "MESSAGES",
    "SEND_PATH",
    "Errors",
    "error_response",
    "make_router",
    "simulated_refusal",
    "validate_mail",
]
