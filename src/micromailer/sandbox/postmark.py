"""Fake Postmark: ``POST /email`` with the server-token header and Postmark's
``{"ErrorCode", "Message"}`` errors."""

from __future__ import annotations

import base64
import binascii
import json
from email.utils import formataddr, getaddresses
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from micromailer.providers.postmark import FORBIDDEN_EXTENSIONS
from micromailer.sandbox.capture import CapturedAttachment, CapturedMessage, ProviderState
from micromailer.sandbox.simulator import simulate

SEND_PATH = "/email"
TOKEN_HEADER = "X-Postmark-Server-Token"
#: Postmark's test token: the request is checked and answered, nothing is sent.
TEST_TOKEN = "POSTMARK_API_TEST"
ADDRESS_FIELDS = (("To", "to"), ("Cc", "cc"), ("Bcc", "bcc"))
STRING_FIELDS = (
    "From", "To", "Cc", "Bcc", "ReplyTo", "Subject", "HtmlBody", "TextBody", "Tag",
    "MessageStream",
)
MAX_RECIPIENTS = 50
#: Postmark's ``(ErrorCode, Message)`` by HTTP status, for injected faults; a status not
#: listed answers its phrase without an ``ErrorCode``.
FAULT_ERRORS: dict[int, tuple[int, str]] = {
    401: (10, "Request does not contain a valid Server token."),
    422: (300, "Invalid email request"),
    429: (429, "Rate limit exceeded."),
    503: (100, "Postmark is down for maintenance."),
}

#: Postmark's messages for the checks the fake makes, by rule.
MESSAGES: dict[str, str] = {
    "no-token": "No Account or Server API tokens were supplied in the HTTP headers. Please add "
    "a header for either X-Postmark-Server-Token or X-Postmark-Account-Token.",
    "json": "Received invalid JSON input.",
    "incompatible": "The JSON input you provided is syntactically correct, but still not the "
    "one we expect.",
    "json-required": "Your HTTP request does not have the Content-Type header set to "
    "application/json.",
    "address": "Invalid '{field}' address: '{value}'.",
    "no-recipients": "Zero recipients specified",
    "too-many": "Maximum of 50 recipients exceeded.",
    "body": "Provide either email TextBody or HtmlBody or both.",
    "attachment": "Invalid attachment content - illegal base64 string.",
    "forbidden": "Forbidden attachment type: '{name}'.",
    "inactive": "You tried to send to recipient(s) that have been marked as inactive. Found "
    "inactive addresses: {addresses}. Inactive recipients are ones that have generated a hard "
    "bounce, a spam complaint, or a manual suppression.",
}

#: A validation failure: ``(ErrorCode, Message)``.
Refusal = tuple[int, str]


def error_response(
    status: int, code: int | None, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Postmark's error body: ``{"ErrorCode", "Message"}`` (the code left out when none)."""
    body: dict[str, Any] = {"ErrorCode": code, "Message": message} if code is not None else {
        "Message": message
    }
    return JSONResponse(body, status_code=status, headers=headers)


def fault_response(status: int, retry_after: float | None) -> JSONResponse:
    code, message = FAULT_ERRORS.get(status, (None, "injected fault"))
    headers = (
        {"Retry-After": f"{retry_after:g}"} if status == 429 and retry_after is not None else None
    )
    return error_response(status, code, message, headers)


def parse_addresses(value: str) -> list[tuple[str, str]] | None:
    """``(name, email)`` of each comma-separated address; ``None`` if one is not an address."""
    parsed = getaddresses([value])
    for _, email in parsed:
        local, at, domain = email.rpartition("@")
        if not (local and at and "." in domain) or " " in email:
            return None
    return parsed


def validate_email(body: dict[str, Any]) -> Refusal | None:
    """What Postmark would answer ``422`` to this body, ``None`` when it is valid."""
    for field in STRING_FIELDS:
        if body.get(field) is not None and not isinstance(body[field], str):
            return 403, MESSAGES["incompatible"]
    sender = body.get("From") or ""
    if len(parse_addresses(sender) or []) != 1:
        return 300, MESSAGES["address"].format(field="From", value=sender)
    count = 0
    for field, _ in ADDRESS_FIELDS:
        value = body.get(field)
        if not value:
            continue
        parsed = parse_addresses(value)
        if parsed is None:
            return 300, MESSAGES["address"].format(field=field, value=value)
        count += len(parsed)
    if count == 0:
        return 300, MESSAGES["no-recipients"]
    if count > MAX_RECIPIENTS:
        return 300, MESSAGES["too-many"]
    if not body.get("HtmlBody") and not body.get("TextBody"):
        return 300, MESSAGES["body"]
    return _validate_extras(body)


def _validate_extras(body: dict[str, Any]) -> Refusal | None:
    attachments = body.get("Attachments") or []
    headers = body.get("Headers") or []
    metadata = body.get("Metadata") or {}
    if not (isinstance(attachments, list) and isinstance(headers, list)
            and isinstance(metadata, dict)):
        return 403, MESSAGES["incompatible"]
    for item in attachments:
        if not isinstance(item, dict) or not all(
            isinstance(item.get(key), str) for key in ("Name", "Content", "ContentType")
        ):
            return 403, MESSAGES["incompatible"]
        name: str = item["Name"]
        stem, dot, extension = name.rpartition(".")
        if stem and dot and extension.lower() in FORBIDDEN_EXTENSIONS:
            return 411, MESSAGES["forbidden"].format(name=name)
        try:
            base64.b64decode(item["Content"], validate=True)
        except binascii.Error:
            return 300, MESSAGES["attachment"]
    for header in headers:
        if not isinstance(header, dict) or not isinstance(header.get("Name"), str):
            return 403, MESSAGES["incompatible"]
    return None


def _captured(state: ProviderState, body: dict[str, Any], message_id: str) -> list[CapturedMessage]:
    from_name, from_email = getaddresses([body["From"]])[0]
    by_field = {key: parse_addresses(body.get(field) or "") or [] for field, key in ADDRESS_FIELDS}
    shown = {key: tuple(formataddr(pair) for pair in pairs) for key, pairs in by_field.items()}
    attachments = tuple(
        CapturedAttachment(
            filename=item["Name"],
            content_type=item.get("ContentType"),
            content=base64.b64decode(item["Content"]),
            content_id=_content_id(item.get("ContentID")),
        )
        for item in body.get("Attachments") or []
    )
    headers = {str(h["Name"]): str(h.get("Value", "")) for h in body.get("Headers") or []}
    reply_to = tuple(formataddr(pair) for pair in getaddresses([body.get("ReplyTo") or ""])
                     if pair[1])
    received_at = state.clock()
    return [
        CapturedMessage(
            message_id=message_id,
            to=email,
            to_name=name or None,
            from_email=from_email,
            from_name=from_name or None,
            subject=body.get("Subject"),
            html=body.get("HtmlBody"),
            text=body.get("TextBody"),
            metadata=dict(body.get("Metadata") or {}),
            received_at=received_at,
            addressed_as=key,
            to_all=shown["to"],
            cc=shown["cc"],
            bcc=shown["bcc"],
            reply_to=reply_to,
            attachments=attachments,
            headers=headers,
            tags=(body["Tag"],) if body.get("Tag") else (),
        )
        for key, pairs in by_field.items()
        for name, email in pairs
    ]


def _content_id(value: Any) -> str | None:
    """An inline image's id without Postmark's ``cid:`` prefix."""
    if not isinstance(value, str) or not value:
        return None
    return value[4:] if value.lower().startswith("cid:") else value


def _message_id(state: ProviderState) -> str:
    """A UUID-shaped id, as Postmark's ``MessageID``."""
    raw = state.hex_id()
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def make_router(state: ProviderState) -> APIRouter:
    """The fake's routes, bound to its state."""
    router = APIRouter(tags=["postmark"])

    @router.post(SEND_PATH)
    async def send_email(request: Request) -> Response:
        fault = await state.injected_fault()
        if fault is not None:
            return fault_response(fault.status, fault.retry_after)
        token = request.headers.get(TOKEN_HEADER)
        test = token == TEST_TOKEN
        if not test and not state.key_matches(token):
            state.capture.count_rejected()
            message = MESSAGES["no-token"] if not token else FAULT_ERRORS[401][1]
            return error_response(401, 10, message)
        refusal = await _read_refusal(request)
        if isinstance(refusal, tuple):
            state.capture.count_rejected()
            return error_response(422, *refusal)
        return await _accept(state, refusal, test)

    return router


async def _read_refusal(request: Request) -> dict[str, Any] | Refusal:
    """The request's valid body, or Postmark's refusal of it."""
    if "application/json" not in request.headers.get("content-type", "").lower():
        return 409, MESSAGES["json-required"]
    try:
        body = json.loads(await request.body())
    except ValueError:
        return 402, MESSAGES["json"]
    if not isinstance(body, dict):
        return 403, MESSAGES["incompatible"]
    return validate_email(body) or body


async def _accept(state: ProviderState, body: dict[str, Any], test: bool) -> Response:
    recipients = [
        email for field, _ in ADDRESS_FIELDS
        for _, email in parse_addresses(body.get(field) or "") or []
    ]
    simulation = await simulate(recipients)
    if simulation.unavailable:
        state.capture.count_rejected()
        return fault_response(503, None)
    inactive = [email for email in recipients if simulation.refuses(email)]
    if inactive:  # Postmark's refusal of a suppressed recipient: the whole message
        state.capture.count_rejected()
        return error_response(422, 406, MESSAGES["inactive"].format(addresses=", ".join(inactive)))
    message_id = _message_id(state)
    if not test:
        for captured in _captured(state, body, message_id):
            state.capture.record(captured)
    return JSONResponse({
        "To": body["To"] if body.get("To") else "",
        "SubmittedAt": state.clock().isoformat(),
        "MessageID": message_id,
        "ErrorCode": 0,
        "Message": "OK",
    })


__all__ = [
    "FAULT_ERRORS",
    "MESSAGES",
    "SEND_PATH",
    "TEST_TOKEN",
    "TOKEN_HEADER",
    "error_response",
    "fault_response",
    "make_router",
    "parse_addresses",
    "validate_email",
]
