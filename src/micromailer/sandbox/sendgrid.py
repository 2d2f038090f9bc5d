"""Fake SendGrid: ``POST /v3/mail/send`` with SendGrid's auth, validation and error format."""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from micromailer.domain.message import Address
from micromailer.sandbox.capture import CapturedAttachment, CapturedMessage, ProviderState
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
    "unique": "Each email address in the personalization block should be unique between to, "
    "cc, and bcc.",
    "recipients": "The total number of recipients must be no more than 1000. This includes "
    "all recipients defined within the to, cc, and bcc parameters, across each object that "
    "you include in the personalizations array.",
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
    "reply_both": "You may not use both reply_to and reply_to_list.",
    "headers": "You may not overwrite this header.",
    "header_value": "Invalid type. Expected: string, given: other.",
    "attachment_content": "The attachment content is required and must be base64 encoded.",
    "attachment_filename": "The attachment filename parameter is required.",
    "attachment_type": "The attachment type cannot contain ';', or CRLF characters.",
    "disposition": "If present, the disposition must be either inline or attachment.",
    "content_id": "The content_id parameter is required if the disposition is set to inline.",
    "categories": "Too many categories: at most 10 unique categories of up to 255 characters.",
    "custom_args": "The total size of custom arguments may not exceed 10,000 bytes.",
}

#: Headers the ``headers`` object may not set (``MS/properties/headers``), lower-cased.
RESERVED_HEADERS = frozenset({
    "x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type",
    "content-transfer-encoding", "to", "from", "subject", "reply-to", "cc", "bcc",
})
#: SendGrid's documented limits (its Mail Send limitations page).
MAX_RECIPIENTS = 1000
MAX_CATEGORIES = 10
MAX_CATEGORY_LENGTH = 255
MAX_CUSTOM_ARGS_BYTES = 10_000
#: A body above this is refused with SendGrid's 413 (30 MB, attachments included).
MAX_BODY_BYTES = 30 * 1000 * 1000
#: Seconds until the fake's ``X-RateLimit-Reset`` when a 429 names no wait.
RATE_WINDOW_SECONDS = 60

ENVELOPE_FIELDS = ("to", "cc", "bcc")


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
        errors.extend(_envelope_errors(index, envelope))
    if not errors and sum(len(fields) for fields in _recipients(body)) > MAX_RECIPIENTS:
        errors.append((MESSAGES["recipients"], "personalizations"))
    sender = body.get("from")
    if not isinstance(sender, dict) or not _looks_like_address(sender.get("email")):
        errors.append((MESSAGES["from"], "from"))
    subject = body.get("subject")
    envelope_subjects = all(isinstance(p, dict) and p.get("subject") for p in personalizations)
    if not (isinstance(subject, str) and subject) and not (personalizations and envelope_subjects):
        errors.append((MESSAGES["subject"], "subject"))
    errors.extend(_content_errors(body))
    errors.extend(_reply_to_errors(body))
    errors.extend(_header_errors(body.get("headers"), "headers"))
    errors.extend(_attachment_errors(body.get("attachments")))
    errors.extend(_extras_errors(body))
    return errors


def _envelope_errors(index: int, envelope: Any) -> Errors:
    """A personalization's to, cc and bcc: addresses valid, each address once."""
    to = envelope.get("to") if isinstance(envelope, dict) else None
    if not isinstance(to, list) or not to:
        return [(MESSAGES["to"], f"personalizations.{index}.to")]
    errors: Errors = []
    seen: set[str] = set()
    for kind in ENVELOPE_FIELDS:
        recipients = envelope.get(kind) or []
        if not isinstance(recipients, list):
            errors.append((MESSAGES["address"], f"personalizations.{index}.{kind}"))
            continue
        for position, recipient in enumerate(recipients):
            email = recipient.get("email") if isinstance(recipient, dict) else None
            field = f"personalizations.{index}.{kind}.{position}.email"
            if not _looks_like_address(email):
                errors.append((MESSAGES["address"], field))
            elif str(email).lower() in seen:
                errors.append((MESSAGES["unique"], field))
            else:
                seen.add(str(email).lower())
    errors.extend(_header_errors(envelope.get("headers"), f"personalizations.{index}.headers"))
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


def _reply_to_errors(body: dict[str, Any]) -> Errors:
    if "reply_to" in body and "reply_to_list" in body:
        return [(MESSAGES["reply_both"], "reply_to")]
    replies = [("reply_to.email", body["reply_to"])] if "reply_to" in body else []
    if isinstance(body.get("reply_to_list"), list):
        replies += [(f"reply_to_list.{n}.email", r) for n, r in enumerate(body["reply_to_list"])]
    return [
        (MESSAGES["address"], field)
        for field, reply in replies
        if not (isinstance(reply, dict) and _looks_like_address(reply.get("email")))
    ]


def _header_errors(headers: Any, field: str) -> Errors:
    if headers is None:
        return []
    if not isinstance(headers, dict):
        return [(MESSAGES["header_value"], field)]
    errors: Errors = []
    for name, value in headers.items():
        if str(name).lower() in RESERVED_HEADERS:
            errors.append((MESSAGES["headers"], f"{field}.{name}"))
        elif not isinstance(value, str):
            errors.append((MESSAGES["header_value"], f"{field}.{name}"))
    return errors


def _attachment_errors(attachments: Any) -> Errors:
    if attachments is None:
        return []
    if not isinstance(attachments, list):
        return [(MESSAGES["attachment_content"], "attachments")]
    errors: Errors = []
    for index, item in enumerate(attachments):
        item = _object(item)
        field = f"attachments.{index}"
        if _decoded(item.get("content")) is None:
            errors.append((MESSAGES["attachment_content"], f"{field}.content"))
        if not isinstance(item.get("filename"), str) or not item["filename"]:
            errors.append((MESSAGES["attachment_filename"], f"{field}.filename"))
        kind = item.get("type")
        if kind is not None and (not isinstance(kind, str) or any(c in kind for c in ";\r\n")):
            errors.append((MESSAGES["attachment_type"], f"{field}.type"))
        disposition = item.get("disposition", "attachment")
        if disposition not in ("inline", "attachment"):
            errors.append((MESSAGES["disposition"], f"{field}.disposition"))
        elif disposition == "inline" and not item.get("content_id"):
            errors.append((MESSAGES["content_id"], f"{field}.content_id"))
    return errors


def _extras_errors(body: dict[str, Any]) -> Errors:
    """``categories`` (≤10 unique, ≤255 characters) and ``custom_args`` (< 10,000 bytes)."""
    errors: Errors = []
    categories = body.get("categories")
    if categories is not None and not (
        isinstance(categories, list)
        and len(categories) <= MAX_CATEGORIES
        and len(set(map(str, categories))) == len(categories)
        and all(isinstance(c, str) and len(c) <= MAX_CATEGORY_LENGTH for c in categories)
    ):
        errors.append((MESSAGES["categories"], "categories"))
    for index, envelope in enumerate(body.get("personalizations") or []):
        arguments = _object(envelope).get("custom_args")
        if arguments is not None and len(json.dumps(arguments).encode()) >= MAX_CUSTOM_ARGS_BYTES:
            errors.append((MESSAGES["custom_args"], f"personalizations.{index}.custom_args"))
    return errors


def _decoded(content: Any) -> bytes | None:
    """An attachment's bytes, or ``None`` unless ``content`` is non-empty strict base64."""
    if not isinstance(content, str) or not content:
        return None
    try:
        return base64.b64decode(content, validate=True)
    except binascii.Error:
        return None


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


def _recipients(body: dict[str, Any]) -> list[tuple[str, str]]:
    """Each to, cc and bcc address of a valid body with the field SendGrid's errors name it by."""
    return [
        (recipient["email"], f"personalizations.{index}.{kind}.{position}.email")
        for index, envelope in enumerate(body["personalizations"])
        for kind in ENVELOPE_FIELDS
        for position, recipient in enumerate(envelope.get(kind) or [])
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


def rate_limit_headers(now: float, retry_after: float | None) -> dict[str, str]:
    """SendGrid's 429 headers: ``X-RateLimit-Reset`` is a Unix time; ``Retry-After`` only when
    the fault names a wait (the fault controls' shared knob; SendGrid documents none)."""
    wait = RATE_WINDOW_SECONDS if retry_after is None else retry_after
    headers = {
        "X-RateLimit-Limit": "600",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(math.ceil(now + wait)),
    }
    if retry_after is not None:
        headers["Retry-After"] = f"{retry_after:g}"
    return headers


def _formatted(recipients: Any) -> tuple[str, ...]:
    return tuple(
        Address(item["email"], item.get("name") or None).formatted()
        for item in recipients or []
    )


def _captured(state: ProviderState, body: dict[str, Any], message_id: str) -> list[CapturedMessage]:
    """One :class:`CapturedMessage` per recipient (to, cc and bcc) of each personalization."""
    content = {block.get("type"): block.get("value") for block in body.get("content") or []}
    sender = body["from"]
    replies = [body["reply_to"]] if "reply_to" in body else body.get("reply_to_list") or []
    attachments = tuple(
        CapturedAttachment(
            filename=item["filename"],
            content_type=item.get("type"),
            content=_decoded(item["content"]) or b"",
            content_id=item.get("content_id") if item.get("disposition") == "inline" else None,
        )
        for item in body.get("attachments") or []
    )
    received_at = state.clock()
    captured = []
    for envelope in body["personalizations"]:
        metadata = {**_object(body.get("custom_args")), **_object(envelope.get("custom_args"))}
        headers = {**_object(body.get("headers")), **_object(envelope.get("headers"))}
        for kind in ENVELOPE_FIELDS:
            for recipient in envelope.get(kind) or []:
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
                        addressed_as=kind,
                        to_all=_formatted(envelope["to"]),
                        cc=_formatted(envelope.get("cc")),
                        bcc=_formatted(envelope.get("bcc")),
                        reply_to=_formatted(replies),
                        attachments=attachments,
                        headers=headers,
                        tags=tuple(body.get("categories") or ()),
                    )
                )
    return captured


def sandbox_mode(body: dict[str, Any]) -> bool:
    """Whether ``mail_settings.sandbox_mode.enable`` is ``true``: SendGrid's test mode."""
    settings = body.get("mail_settings")
    mode = settings.get("sandbox_mode") if isinstance(settings, dict) else None
    return isinstance(mode, dict) and mode.get("enable") is True


def make_router(state: ProviderState) -> APIRouter:
    """The fake's routes, bound to its state."""
    router = APIRouter(tags=["sendgrid"])

    @router.post(SEND_PATH)
    async def send_mail(request: Request) -> Response:
        fault = await state.injected_fault()
        if fault is not None:
            headers = {}
            if fault.status == 429:
                headers = rate_limit_headers(state.clock().timestamp(), fault.retry_after)
            message = FAULT_MESSAGES.get(fault.status, "injected fault")
            return error_response(fault.status, [(message, None)], headers)
        if not state.key_matches(_bearer_key(request)):
            state.capture.count_rejected()
            if _bearer_key(request) is None:
                return error_response(401, [("authorization required", None)])
            return error_response(
                401, [("The provided authorization grant is invalid, expired, or revoked", None)]
            )
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            state.capture.count_rejected()
            return error_response(413, [(FAULT_MESSAGES[413], None)])
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        errors = validate_mail(body)
        if errors:
            state.capture.count_rejected()
            return error_response(400, errors)
        recipients = _recipients(body)
        refusal = simulated_refusal(
            await simulate(email for email, _ in recipients), recipients
        )
        if refusal is not None:
            state.capture.count_rejected()
            return refusal
        message_id = state.token_id()
        if sandbox_mode(body):  # SendGrid's test mode: validated, answered 200, sent nowhere
            return Response(status_code=200, headers={"X-Message-Id": message_id})
        for captured in _captured(state, body, message_id):
            state.capture.record(captured)
        return Response(status_code=202, headers={"X-Message-Id": message_id})

    return router


__all__ = [
    "FAULT_MESSAGES",
    "MAX_BODY_BYTES",
    "MAX_RECIPIENTS",
    "MESSAGES",
    "RESERVED_HEADERS",
    "SEND_PATH",
    "Errors",
    "error_response",
    "make_router",
    "rate_limit_headers",
    "sandbox_mode",
    "simulated_refusal",
    "validate_mail",
]
