"""Fake Brevo: ``POST /v3/smtp/email`` with Brevo's ``api-key`` check, validation and errors."""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from micromailer.domain.message import Address
from micromailer.sandbox.capture import CapturedAttachment, CapturedMessage, ProviderState
from micromailer.sandbox.simulator import simulate

SEND_PATH = "/v3/smtp/email"

#: Recipient fields of ``sendSmtpEmail``, in the order Brevo checks them.
RECIPIENT_FIELDS = ("to", "cc", "bcc")

#: Extensions Brevo accepts as attachments (the spec's ``attachment`` description).
ALLOWED_EXTENSIONS = frozenset({
    "xlsx", "xls", "ods", "docx", "docm", "doc", "csv", "pdf", "txt", "gif", "jpg", "jpeg",
    "png", "tif", "tiff", "rtf", "bmp", "cgm", "css", "shtml", "html", "htm", "zip", "xml",
    "ppt", "pptx", "tar", "ez", "ics", "mobi", "msg", "pub", "eps", "odt", "mp3", "m4a", "m4v",
    "wma", "ogg", "flac", "wav", "aif", "aifc", "aiff", "mp4", "mov", "avi", "mkv", "mpeg",
    "mpg", "wmv", "pkpass", "xlsm",
})

#: Keys of ``headers`` Brevo reads itself rather than adding to the mail.
SPECIAL_HEADERS = frozenset({"x-mailin-custom", "sender.ip", "idempotencykey"})

#: Status → Brevo's ``(code, message)`` for injected faults (``errorModel`` codes where the
#: spec has one for the status).
FAULT_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Key not found"),
    402: ("not_enough_credits", "Not enough credits, plan upgrade needed"),
    403: ("permission_denied", "Permission denied"),
    404: ("document_not_found", "Object does not exist"),
    405: ("method_not_allowed", "POST Method is not allowed on this path"),
    406: ("not_acceptable", "Not acceptable"),
    422: ("unprocessable_entity", "Unprocessable entity"),
    429: ("too_many_requests", "Too many requests"),
}
_OTHER_4XX = ("bad_request", "Injected fault")
_OTHER_5XX = ("internal_error", "Internal server error")

#: The rate limit the fake reports in its ``x-sib-ratelimit-*`` headers.
RATE_LIMIT = 1000


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Brevo's error body: ``{"code", "message"}``."""
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def fault_response(status: int, retry_after: float | None) -> JSONResponse:
    """An injected fault in Brevo's format; a 429 carries Brevo's rate-limit headers."""
    code, message = FAULT_ERRORS.get(status, _OTHER_5XX if status >= 500 else _OTHER_4XX)
    headers = None
    if status == 429:
        headers = {"x-sib-ratelimit-limit": str(RATE_LIMIT), "x-sib-ratelimit-remaining": "0"}
        if retry_after is not None:
            headers["x-sib-ratelimit-reset"] = f"{retry_after:g}"
    return error_response(status, code, message, headers)


def validate_email(body: Any) -> tuple[str, str] | None:
    """Brevo's first objection to this body as ``(code, message)``; ``None`` when valid."""
    if not isinstance(body, dict):
        return "bad_request", "Input must be a valid JSON object"
    sender = body.get("sender")
    if not isinstance(sender, dict):
        return "missing_parameter", "sender is missing"
    if not isinstance(sender.get("id"), int) and not _is_address(sender.get("email")):
        return "invalid_parameter", "valid sender email required"
    to = body.get("to")
    if not isinstance(to, list) or not to:
        return "missing_parameter", "to is missing"
    for field in RECIPIENT_FIELDS:
        recipients = body.get(field, [])
        if not isinstance(recipients, list):
            return "invalid_parameter", f"{field} is not valid"
        if any(not isinstance(item, dict) or not _is_address(item.get("email"))
               for item in recipients):
            return "invalid_parameter", f"email is not valid in {field}"
    reply_to = body.get("replyTo")
    if reply_to is not None and (
        not isinstance(reply_to, dict) or not _is_address(reply_to.get("email"))
    ):
        return "invalid_parameter", "email is not valid in replyTo"
    if not isinstance(body.get("subject"), str) or not body["subject"]:
        return "missing_parameter", "subject is missing"
    if not body.get("htmlContent") and not body.get("textContent"):
        return "missing_parameter", "htmlContent or textContent is missing"
    return _attachment_error(body.get("attachment")) or _extras_error(body)


def _attachment_error(attachments: Any) -> tuple[str, str] | None:
    if attachments is None:
        return None
    if not isinstance(attachments, list):
        return "invalid_parameter", "attachment is not valid"
    for item in attachments:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            return "missing_parameter", "attachment name is missing"
        stem, dot, extension = item["name"].rpartition(".")
        if not (stem and dot) or extension.lower() not in ALLOWED_EXTENSIONS:
            return "invalid_parameter", f"attachment extension is not allowed: {item['name']}"
        if _decoded(item.get("content")) is None:
            return "invalid_parameter", "attachment content must be base64 encoded"
    return None


def _extras_error(body: dict[str, Any]) -> tuple[str, str] | None:
    headers = body.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        return "invalid_parameter", "headers must be an object of strings"
    tags = body.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        return "invalid_parameter", "tags must be an array of strings"
    return None


def _is_address(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    local, at, domain = value.rpartition("@")
    return bool(local and at and domain) and " " not in value


def _decoded(content: Any) -> bytes | None:
    if not isinstance(content, str):
        return None
    try:
        return base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        return None


def _formatted(item: dict[str, Any]) -> str:
    return Address(item["email"], item.get("name") or None).formatted()


def this_case(name: str) -> str:
    """A header name as Brevo writes it: each hyphen-separated word capitalised."""
    return "-".join(word[:1].upper() + word[1:].lower() for word in name.split("-"))


def _metadata(headers: dict[str, str]) -> dict[str, Any]:
    """``X-Mailin-custom`` read back as Brevo's webhooks would carry it: JSON when it is."""
    raw = next((v for k, v in headers.items() if k.lower() == "x-mailin-custom"), None)
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"X-Mailin-custom": raw}
    return value if isinstance(value, dict) else {"X-Mailin-custom": raw}


def _captured(state: ProviderState, body: dict[str, Any], message_id: str) -> list[CapturedMessage]:
    """One capture per recipient (to, cc, bcc), each with the whole message's fields."""
    headers: dict[str, str] = body.get("headers") or {}
    sender = body["sender"]
    reply_to = body.get("replyTo")
    attachments = tuple(
        CapturedAttachment(
            filename=item["name"],
            content_type=mimetypes.guess_type(item["name"])[0],
            content=_decoded(item["content"]) or b"",
        )
        for item in body.get("attachment") or []
    )
    fields = {field: body.get(field) or [] for field in RECIPIENT_FIELDS}
    received_at = state.clock()
    return [
        CapturedMessage(
            message_id=message_id,
            to=recipient["email"],
            to_name=recipient.get("name"),
            from_email=sender.get("email"),
            from_name=sender.get("name"),
            subject=body["subject"],
            html=body.get("htmlContent"),
            text=body.get("textContent"),
            metadata=_metadata(headers),
            received_at=received_at,
            addressed_as=field,
            to_all=tuple(_formatted(item) for item in fields["to"]),
            cc=tuple(_formatted(item) for item in fields["cc"]),
            bcc=tuple(_formatted(item) for item in fields["bcc"]),
            reply_to=(_formatted(reply_to),) if reply_to else (),
            attachments=attachments,
            headers={
                this_case(name): value for name, value in headers.items()
                if name.lower() not in SPECIAL_HEADERS
            },
            tags=tuple(body.get("tags") or ()),
        )
        for field in RECIPIENT_FIELDS
        for recipient in fields[field]
    ]


def _message_id(state: ProviderState) -> str:
    """An id shaped like Brevo's: ``<timestamp.digits@smtp-relay.mailin.fr>``."""
    return f"<{state.clock():%Y%m%d%H%M%S}.{state.rng.getrandbits(40)}@smtp-relay.mailin.fr>"


def make_router(state: ProviderState) -> APIRouter:
    """The fake's routes, bound to its state."""
    router = APIRouter(tags=["brevo"])

    @router.post(SEND_PATH)
    async def send_transac_email(request: Request) -> Response:
        fault = await state.injected_fault()
        if fault is not None:
            return fault_response(fault.status, fault.retry_after)
        key = request.headers.get("api-key")
        if not state.key_matches(key):
            state.capture.count_rejected()
            return error_response(
                401, "unauthorized", "Key not found" if key else "API Key is not enabled"
            )
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        objection = validate_email(body)
        if objection is not None:
            state.capture.count_rejected()
            return error_response(400, *objection)
        simulation = await simulate(
            item["email"] for field in RECIPIENT_FIELDS for item in body.get(field) or []
        )
        if simulation.unavailable:
            state.capture.count_rejected()
            return fault_response(503, None)
        refused = next(
            (field for field in RECIPIENT_FIELDS for item in body.get(field) or []
             if simulation.refuses(item["email"])),
            None,
        )
        if refused is not None:  # Brevo's refusal of an address it finds invalid
            state.capture.count_rejected()
            return error_response(400, "invalid_parameter", f"email is not valid in {refused}")
        message_id = _message_id(state)
        for captured in _captured(state, body, message_id):
            state.capture.record(captured)
        headers = {"x-sib-ratelimit-limit": str(RATE_LIMIT),
                   "x-sib-ratelimit-remaining": str(RATE_LIMIT - 1),
                   "x-sib-ratelimit-reset": "1"}
        return JSONResponse({"messageId": message_id}, status_code=201, headers=headers)

    return router


__all__ = [
    "ALLOWED_EXTENSIONS",
    "FAULT_ERRORS",
    "RECIPIENT_FIELDS",
    "SEND_PATH",
    "error_response",
    "fault_response",
    "make_router",
    "this_case",
    "validate_email",
]
