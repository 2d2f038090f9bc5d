"""Fake Resend: ``POST /emails`` with Resend's bearer auth, validation, errors and
``Idempotency-Key``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from micromailer.sandbox.capture import CapturedAttachment, CapturedMessage, ProviderState
from micromailer.sandbox.simulator import simulate

SEND_PATH = "/emails"

#: Address fields of ``SendEmailRequest``: a string or a list of strings each.
ADDRESS_FIELDS = ("to", "cc", "bcc", "reply_to")
RECIPIENT_FIELDS = ("to", "cc", "bcc")
MAX_TO = 50
MAX_KEY_LENGTH = 256
MAX_CONTENT_ID_LENGTH = 127
#: How long Resend keeps an idempotency key (its idempotency-keys page).
KEY_RETENTION = timedelta(hours=24)
#: Resend's own testing domain: it sends only to the account owner's address.
TESTING_DOMAIN = "resend.dev"
TAG_TEXT = re.compile(r"[A-Za-z0-9_-]{1,256}")

#: Status → Resend's error ``(name, message)`` for injected faults (its errors page).
FAULT_ERRORS: dict[int, tuple[str, str]] = {
    400: ("validation_error", "We found an error with one or more fields in the request."),
    401: ("validation_error", "API key is invalid"),
    403: ("invalid_api_key", "API key is invalid."),
    404: ("not_found", "The requested endpoint does not exist."),
    405: ("method_not_allowed", "Method is not allowed for the requested path."),
    409: ("concurrent_idempotent_requests",
          "Same idempotency key used while original request is still in progress."),
    422: ("validation_error", "Injected fault."),
    429: ("rate_limit_exceeded",
          "Too many requests. Please limit the number of requests per second."),
    451: ("security_error", "We may have found a security issue with the request."),
    500: ("internal_server_error", "An unexpected error occurred."),
}
_OTHER_4XX = ("validation_error", "Injected fault.")
_OTHER_5XX = ("application_error", "An unexpected error occurred.")

#: The rate limit the fake reports in its ``ratelimit-*`` headers (Resend's default).
RATE_LIMIT = 2

_ADDRESS_FORMAT = "The email address needs to follow the `email@example.com` or " \
    "`Name <email@example.com>` format."


def error_response(
    status: int, name: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Resend's error body: ``{"statusCode", "name", "message"}``."""
    body = {"statusCode": status, "name": name, "message": message}
    return JSONResponse(body, status_code=status, headers=headers)


def fault_response(status: int, retry_after: float | None) -> JSONResponse:
    """An injected fault in Resend's format; a 429 carries Resend's rate-limit headers."""
    name, message = FAULT_ERRORS.get(status, _OTHER_5XX if status >= 500 else _OTHER_4XX)
    headers = None
    if status == 429:
        headers = {"ratelimit-limit": str(RATE_LIMIT), "ratelimit-remaining": "0"}
        if retry_after is not None:
            headers["ratelimit-reset"] = headers["retry-after"] = f"{retry_after:g}"
    return error_response(status, name, message, headers)


def address_of(value: str) -> str | None:
    """The address of ``"addr"`` or ``"Name <addr>"``; ``None`` when it is not one."""
    _, address = parseaddr(value)
    local, at, domain = address.rpartition("@")
    if not (local and at and domain) or " " in address:
        return None
    return address


def addresses(body: dict[str, Any], field: str) -> list[str]:
    """A field's entries as a list (Resend takes a string or a list of strings)."""
    value = body.get(field)
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def validate_email(body: Any) -> tuple[int, str, str] | None:
    """Resend's first objection to this body as ``(status, name, message)``, else ``None``."""
    if not isinstance(body, dict):
        return 422, "validation_error", "The request body must be a JSON object."
    for field in ("from", "to", "subject"):
        if body.get(field) in (None, "", []):
            return 422, "missing_required_field", f"Missing `{field}` field."
    if not isinstance(body["from"], str) or address_of(body["from"]) is None:
        return 422, "invalid_from_address", f"Invalid `from` field. {_ADDRESS_FORMAT}"
    if not isinstance(body["subject"], str):
        return 422, "validation_error", "The `subject` field must be a `string`."
    for field in ADDRESS_FIELDS:
        value = body.get(field)
        if value is not None and not (
            isinstance(value, str)
            or (isinstance(value, list) and all(isinstance(item, str) for item in value))
        ):
            return 422, "validation_error", f"The `{field}` field must be a `string`."
        if any(address_of(item) is None for item in addresses(body, field)):
            return 422, "validation_error", f"Invalid `{field}` field. {_ADDRESS_FORMAT}"
    if len(addresses(body, "to")) > MAX_TO:
        return 422, "validation_error", f"The `to` field must have at most {MAX_TO} items."
    return _attachment_error(body.get("attachments")) or _extras_error(body)


def _attachment_error(attachments: Any) -> tuple[int, str, str] | None:
    if attachments is None:
        return None
    if not isinstance(attachments, list):
        return 422, "validation_error", "The `attachments` field must be an `array`."
    for item in attachments:
        if not isinstance(item, dict) or not (item.get("content") or item.get("path")):
            return 422, "invalid_attachment", "Attachment must have either a `content` or `path`."
        if item.get("content") is not None and _decoded(item["content"]) is None:
            return 422, "invalid_attachment", "Attachment `content` must be base64 encoded."
        content_id = item.get("content_id")
        if content_id is not None and (
            not isinstance(content_id, str) or len(content_id) > MAX_CONTENT_ID_LENGTH
        ):
            return 422, "validation_error", "The `content_id` must be less than 128 characters."
    return None


def _extras_error(body: dict[str, Any]) -> tuple[int, str, str] | None:
    headers = body.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        return 422, "validation_error", "The `headers` field must be an object of strings."
    tags = body.get("tags", [])
    if not isinstance(tags, list) or not all(
        isinstance(tag, dict) and isinstance(tag.get("name"), str)
        and TAG_TEXT.fullmatch(tag["name"]) and isinstance(tag.get("value", ""), str)
        and (tag.get("value") is None or TAG_TEXT.fullmatch(tag["value"]))
        for tag in tags
    ):
        return 422, "validation_error", (
            "Tags should only contain ASCII letters, numbers, underscores, or dashes."
        )
    return None


def _decoded(content: Any) -> bytes | None:
    if not isinstance(content, str):
        return None
    try:
        return base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        return None


def testing_refusal(body: dict[str, Any]) -> str | None:
    """Resend's 403 for its testing sender (``@resend.dev``) writing to anyone else."""
    sender = address_of(body["from"]) or ""
    if not sender.lower().endswith(f"@{TESTING_DOMAIN}"):
        return None
    outside = [
        address for field in RECIPIENT_FIELDS for item in addresses(body, field)
        if not (address := address_of(item) or "").lower().endswith(f"@{TESTING_DOMAIN}")
    ]
    if not outside:
        return None
    return (
        "You can only send testing emails to your own email address. To send emails to other "
        "recipients, please verify a domain at resend.com/domains."
    )


@dataclass
class _KeyRecord:
    digest: str
    at: datetime
    #: ``None`` while the first request with this key is in flight.
    email_id: str | None = None


class IdempotencyKeys:
    """Keys seen in the last 24 hours, bounded: the body's digest and the id it got."""

    def __init__(self, capacity: int) -> None:
        self._records: OrderedDict[str, _KeyRecord] = OrderedDict()
        self._capacity = capacity

    def get(self, key: str, now: datetime) -> _KeyRecord | None:
        record = self._records.get(key)
        if record is not None and now - record.at > KEY_RETENTION:
            del self._records[key]
            return None
        return record

    def start(self, key: str, digest: str, now: datetime) -> _KeyRecord:
        record = self._records[key] = _KeyRecord(digest, now)
        while len(self._records) > self._capacity:
            self._records.popitem(last=False)
        return record

    def forget(self, key: str) -> None:
        self._records.pop(key, None)


def _captured(state: ProviderState, body: dict[str, Any], email_id: str) -> list[CapturedMessage]:
    """One capture per recipient (to, cc, bcc), each with the whole message's fields."""
    sender_name, sender = parseaddr(body["from"])
    tags = {tag["name"]: tag.get("value") for tag in body.get("tags") or []}
    attachments = tuple(
        CapturedAttachment(
            filename=item.get("filename") or "",
            content_type=item.get("content_type"),
            content=_decoded(item.get("content")) or b"",
            content_id=item.get("content_id"),
        )
        for item in body.get("attachments") or []
    )
    fields = {field: tuple(addresses(body, field)) for field in ADDRESS_FIELDS}
    received_at = state.clock()
    captured = []
    for field in RECIPIENT_FIELDS:
        for item in fields[field]:
            name, address = parseaddr(item)
            captured.append(CapturedMessage(
                message_id=email_id, to=address, to_name=name or None, from_email=sender,
                from_name=sender_name or None, subject=body["subject"], html=body.get("html"),
                text=body.get("text"), metadata=tags, received_at=received_at,
                addressed_as=field, to_all=fields["to"], cc=fields["cc"], bcc=fields["bcc"],
                reply_to=fields["reply_to"], attachments=attachments,
                headers=dict(body.get("headers") or {}), tags=tuple(tags),
            ))
    return captured


def _rate_headers() -> dict[str, str]:
    return {"ratelimit-limit": str(RATE_LIMIT), "ratelimit-remaining": str(RATE_LIMIT - 1),
            "ratelimit-reset": "1"}


def make_router(state: ProviderState) -> APIRouter:
    """The fake's routes, bound to its state."""
    router = APIRouter(tags=["resend"])
    keys = IdempotencyKeys(state.capacity)

    @router.post(SEND_PATH)
    async def send_email(request: Request) -> Response:
        fault = await state.injected_fault()
        if fault is not None:
            return fault_response(fault.status, fault.retry_after)
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        key = key.strip() if scheme.lower() == "bearer" else ""
        if not state.key_matches(key):
            state.capture.count_rejected()
            if not key:
                return error_response(401, "missing_api_key",
                                      "Missing API key in the authorization header.")
            return error_response(401, "validation_error", "API key is invalid")
        idempotency_key = request.headers.get("idempotency-key")
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= MAX_KEY_LENGTH:
            state.capture.count_rejected()
            return error_response(400, "invalid_idempotency_key",
                                  "The key must be between 1-256 chars.")
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        objection = validate_email(body)
        if objection is None:
            refusal = testing_refusal(body)
            objection = (403, "validation_error", refusal) if refusal else None
        if objection is not None:
            state.capture.count_rejected()
            return error_response(*objection)
        record = None
        if idempotency_key is not None:
            digest = hashlib.sha256(raw).hexdigest()
            seen = keys.get(idempotency_key, state.clock())
            if seen is not None and seen.digest != digest:
                return error_response(409, "invalid_idempotent_request",
                                       "Same idempotency key used with a different request "
                                       "payload.")
            if seen is not None and seen.email_id is None:
                return error_response(409, "concurrent_idempotent_requests",
                                       "Same idempotency key used while original request is "
                                       "still in progress.")
            if seen is not None:  # the same request again: its answer, nothing sent
                return JSONResponse({"id": seen.email_id}, headers=_rate_headers())
            record = keys.start(idempotency_key, digest, state.clock())
        try:
            simulation = await simulate(
                address_of(item) or item for field in RECIPIENT_FIELDS
                for item in addresses(body, field)
            )
        except BaseException:  # cancelled while in flight: the key must not stay held
            if idempotency_key is not None:
                keys.forget(idempotency_key)
            raise
        refused = next(
            (field for field in RECIPIENT_FIELDS for item in addresses(body, field)
             if simulation.refuses(address_of(item) or item)),
            None,
        )
        if simulation.unavailable or refused is not None:
            if idempotency_key is not None:
                keys.forget(idempotency_key)
            state.capture.count_rejected()
            if simulation.unavailable:
                return fault_response(503, None)
            return error_response(422, "validation_error",
                                  f"Invalid `{refused}` field. {_ADDRESS_FORMAT}")
        email_id = str(uuid.UUID(int=state.rng.getrandbits(128), version=4))
        if record is not None:
            record.email_id = email_id
        for captured in _captured(state, body, email_id):
            state.capture.record(captured)
        return JSONResponse({"id": email_id}, headers=_rate_headers())

    return router


__all__ = [
    "FAULT_ERRORS",
    "KEY_RETENTION",
    "SEND_PATH",
    "IdempotencyKeys",
    "address_of",
    "error_response",
    "fault_response",
    "make_router",
    "testing_refusal",
    "validate_email",
]
