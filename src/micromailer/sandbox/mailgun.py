"""Fake Mailgun: ``POST /v3/{domain}/messages`` with Basic auth, a multipart form and
Mailgun's ``{"message": ...}`` errors."""

from __future__ import annotations

import base64
import binascii
from email.utils import formataddr, getaddresses

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException

from micromailer.sandbox.capture import CapturedAttachment, CapturedMessage, ProviderState
from micromailer.sandbox.simulator import simulate

SEND_PATH = "/v3/{domain}/messages"

#: Mailgun's bound on one message (25 MB), applied to each part the fake parses.
MAX_PART_BYTES = 25 * 1024 * 1024
#: Send options (``o:``, ``h:``, ``v:``, ``t:`` fields) together: at most 16 KB.
MAX_OPTIONS_BYTES = 16 * 1024
OPTION_PREFIXES = ("o:", "h:", "v:", "t:")
ADDRESS_FIELDS = ("to", "cc", "bcc")
FILE_FIELDS = ("attachment", "inline")

#: Texts of Mailgun's own answers, by status, for injected faults.
FAULT_MESSAGES: dict[int, str] = {
    400: "Bad Request",
    403: "Domain sandbox is not allowed to send",
    404: "Domain not found",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

#: Mailgun's validation messages (its spec's 400 examples), by rule.
MESSAGES: dict[str, str] = {
    "missing": "{field} parameter is missing",
    "address": "{field} parameter is not a valid address. please check documentation",
    "body": "Need at least one of 'text', 'html', 'amp-html' or 'template' parameters specified",
    "options": "Send options (parameters starting with o:, h:, v:, or t:) are limited to 16KB "
    "total",
    "file": "{field} parameter must be a file",
}


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Mailgun's error body: ``{"message": ...}``."""
    return JSONResponse({"message": message}, status_code=status, headers=headers)


def forbidden() -> PlainTextResponse:
    """Mailgun's answer to a wrong key: a plain-text ``Forbidden``."""
    return PlainTextResponse("Forbidden", status_code=401)


def fault_response(status: int, domain: str, retry_after: float | None) -> Response:
    """An injected fault as Mailgun answers it; a ``429`` names its wait in the message."""
    if status == 401:
        return forbidden()
    if status == 429:
        message = f"Domain {domain} is not allowed to send: account-requests-per-sec limit exceeded"
        if retry_after is not None:
            message += f", try again after {retry_after:g} seconds"
        return error_response(429, message)
    return error_response(status, FAULT_MESSAGES.get(status, "injected fault"))


def basic_key(request: Request) -> str | None:
    """The password of ``Authorization: Basic api:<key>``; ``None`` unless the user is ``api``."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, key = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return key if user == "api" and key else None


def parse_addresses(values: list[str]) -> list[tuple[str, str]] | None:
    """``(name, email)`` of each address in the field's values (repeated or comma-separated);
    ``None`` when one is not an address."""
    parsed = getaddresses(values)
    for _, email in parsed:
        local, at, domain = email.rpartition("@")
        if not (local and at and "." in domain) or " " in email:
            return None
    return parsed if parsed else None


def validate_form(form: FormData) -> str | None:
    """The message of the 400 Mailgun would answer, ``None`` when the form is valid."""
    for field in ("from", "to"):
        values = [str(value) for value in form.getlist(field) if isinstance(value, str)]
        if not values or not any(value.strip() for value in values):
            return MESSAGES["missing"].format(field=field)
        if parse_addresses(values) is None:
            return MESSAGES["address"].format(field=field)
    for field in ("cc", "bcc"):
        values = [str(value) for value in form.getlist(field)]
        if values and parse_addresses(values) is None:
            return MESSAGES["address"].format(field=field)
    if not form.get("subject"):
        return MESSAGES["missing"].format(field="subject")
    if not any(form.get(field) for field in ("text", "html", "amp-html", "template")):
        return MESSAGES["body"]
    options = sum(
        len(name.encode()) + len(str(value).encode())
        for name, value in form.multi_items() if name.startswith(OPTION_PREFIXES)
    )
    if options > MAX_OPTIONS_BYTES:
        return MESSAGES["options"]
    for field in FILE_FIELDS:
        if any(not isinstance(value, UploadFile) for value in form.getlist(field)):
            return MESSAGES["file"].format(field=field)
    return None


def _texts(form: FormData, field: str) -> list[str]:
    return [value for value in form.getlist(field) if isinstance(value, str)]


async def _attachments(form: FormData) -> tuple[CapturedAttachment, ...]:
    files = []
    for field in FILE_FIELDS:
        for upload in form.getlist(field):
            assert isinstance(upload, UploadFile)
            name = upload.filename or ""
            files.append(
                CapturedAttachment(
                    filename=name,
                    content_type=upload.content_type,
                    content=await upload.read(),
                    content_id=name if field == "inline" else None,
                )
            )
    return tuple(files)


async def _captured(
    state: ProviderState, form: FormData, message_id: str
) -> list[CapturedMessage]:
    from_name, from_email = getaddresses(_texts(form, "from"))[0]
    by_field = {field: getaddresses(_texts(form, field)) for field in ADDRESS_FIELDS}
    shown = {field: tuple(formataddr(pair) for pair in by_field[field]) for field in by_field}
    options = [(name, str(value)) for name, value in form.multi_items()
               if name.startswith(OPTION_PREFIXES)]
    headers = {name[2:]: value for name, value in options
               if name.startswith("h:") and name != "h:Reply-To"}
    reply_to = tuple(formataddr(pair) for pair in getaddresses(_texts(form, "h:Reply-To")))
    attachments = await _attachments(form)
    received_at = state.clock()
    return [
        CapturedMessage(
            message_id=message_id,
            to=email,
            to_name=name or None,
            from_email=from_email,
            from_name=from_name or None,
            subject=str(form.get("subject")),
            html=_text_or_none(form, "html"),
            text=_text_or_none(form, "text"),
            metadata={name[2:]: value for name, value in options if name.startswith("v:")},
            received_at=received_at,
            addressed_as=field,
            to_all=shown["to"],
            cc=shown["cc"],
            bcc=shown["bcc"],
            reply_to=reply_to,
            attachments=attachments,
            headers=headers,
            tags=tuple(value for name, value in options if name == "o:tag"),
        )
        for field in ADDRESS_FIELDS
        for name, email in by_field[field]
    ]


def _text_or_none(form: FormData, field: str) -> str | None:
    value = form.get(field)
    return value if isinstance(value, str) else None


def _message_id(state: ProviderState, domain: str) -> str:
    """``<20260301120000.1f3a…@domain>``, shaped as Mailgun's RFC 2392 ids."""
    return f"<{state.clock():%Y%m%d%H%M%S}.{state.hex_id()[:16]}@{domain}>"


def make_router(state: ProviderState) -> APIRouter:
    """The fake's routes, bound to its state."""
    router = APIRouter(tags=["mailgun"])

    @router.post(SEND_PATH)
    async def send_message(domain: str, request: Request) -> Response:
        fault = await state.injected_fault()
        if fault is not None:
            return fault_response(fault.status, domain, fault.retry_after)
        if not state.key_matches(basic_key(request)):
            state.capture.count_rejected()
            return forbidden()
        if "." not in domain:  # the fake knows every domain that looks like one
            state.capture.count_rejected()
            return error_response(404, f"Domain not found: {domain}")
        try:
            form = await request.form(max_fields=5000, max_part_size=MAX_PART_BYTES)
        except MultiPartException as exc:
            state.capture.count_rejected()
            return error_response(400, str(exc.message))
        try:
            return await _accept(state, domain, form)
        finally:
            await form.close()

    return router


async def _accept(state: ProviderState, domain: str, form: FormData) -> Response:
    invalid = validate_form(form)
    if invalid is not None:
        state.capture.count_rejected()
        return error_response(400, invalid)
    by_field = {field: getaddresses(_texts(form, field)) for field in ADDRESS_FIELDS}
    simulation = await simulate(email for pairs in by_field.values() for _, email in pairs)
    if simulation.unavailable:
        state.capture.count_rejected()
        return error_response(503, FAULT_MESSAGES[503])
    refused = next(
        (field for field, pairs in by_field.items()
         if any(simulation.refuses(email) for _, email in pairs)),
        None,
    )
    if refused is not None:  # Mailgun refuses a recipient only as a bad address
        state.capture.count_rejected()
        return error_response(400, MESSAGES["address"].format(field=refused))
    message_id = _message_id(state, domain)
    if not in_test_mode(form):  # Mailgun's test mode: accepted, sent nowhere
        for captured in await _captured(state, form, message_id):
            state.capture.record(captured)
    return JSONResponse({"id": message_id, "message": "Queued. Thank you."})


def in_test_mode(form: FormData) -> bool:
    """Whether ``o:testmode`` is on (Mailgun takes ``yes``, ``true`` or ``True``)."""
    return any(value in ("yes", "true", "True") for value in _texts(form, "o:testmode"))


__all__ = [
    "FAULT_MESSAGES",
    "MESSAGES",
    "SEND_PATH",
    "basic_key",
    "error_response",
    "fault_response",
    "in_test_mode",
    "make_router",
    "parse_addresses",
    "validate_form",
]

