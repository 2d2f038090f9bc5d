"""Fake Amazon SES v2: ``SendEmail`` with a real SigV4 check, SES's validation and errors."""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from email import message_from_bytes
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from botocore.model import Shape
from botocore.validate import ParamValidator
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from micromailer.config import SANDBOX_API_KEY
from micromailer.sandbox.capture import CapturedAttachment, CapturedMessage, ProviderState
from micromailer.sandbox.sigv4 import signature_problem
from micromailer.sandbox.simulator import simulate

SEND_PATH = "/v2/email/outbound-emails"
SERVICE = "ses"
#: The access key id whose secret is the fake's key (the adapter's ``SANDBOX_ACCESS_KEY_ID``).
ACCESS_KEY_ID = "sandbox"
MAX_RECIPIENTS = 50

#: Injected fault status → SES's error type and message for it.
FAULT_ERRORS: dict[int, tuple[str, str]] = {
    400: ("BadRequestException", "Bad request"),
    403: ("AccessDeniedException", "User is not authorized to perform: ses:SendEmail"),
    404: ("NotFoundException", "Configuration set does not exist."),
    429: ("TooManyRequestsException", "Too many requests"),
    500: ("InternalFailure", "The request processing has failed because of an unknown error."),
    503: ("ServiceUnavailable", "Service is unavailable. Please try again later."),
}
#: How SES refuses a recipient on its suppression list (the simulator's ``perm-fail@``).
RECIPIENT_REFUSAL = ("MessageRejected", "Address blacklisted.")

_TAG = re.compile(r"[A-Za-z0-9_-]{1,256}")
_HEADER_NAME = re.compile(r"[!-9;-@A-~]{1,126}")


def error_response(
    status: int, error_type: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """SES v2's error answer: the type in ``x-amzn-ErrorType``, ``{"message"}`` as the body."""
    return JSONResponse(
        {"message": message}, status_code=status,
        headers={"x-amzn-ErrorType": error_type, "x-amzn-RequestId": str(uuid.uuid4()),
                 **(headers or {})},
    )


class BadRequest(ValueError):
    """A body SES refuses with ``BadRequestException``."""


def validate_send_email(body: Any, input_shape: Shape | None = None) -> dict[str, Any]:
    """``body`` when SES would take it; raise :class:`BadRequest` otherwise.

    A structural check of ``SendEmailRequest`` (service-2.json), always; with
    ``input_shape`` (the spec's ``SendEmailRequest``) botocore's ``ParamValidator`` as well."""
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object.")
    if input_shape is not None:
        report = ParamValidator().validate(body, input_shape)
        if report.has_errors():
            raise BadRequest(report.generate_report())
    content = body.get("Content")
    if not isinstance(content, dict) or len(content) != 1 or not (
        {"Simple", "Raw", "Template"} & set(content)
    ):
        raise BadRequest("Content must hold exactly one of Simple, Raw or Template.")
    destination = _object(body.get("Destination"), "Destination")
    for field in ("ToAddresses", "CcAddresses", "BccAddresses"):
        for address in _strings(destination.get(field, []), f"Destination.{field}"):
            if _mailbox(address)[0] is None:
                raise BadRequest(f"Illegal address: {address}")
    for address in _strings(body.get("ReplyToAddresses", []), "ReplyToAddresses"):
        if _mailbox(address)[0] is None:
            raise BadRequest(f"Illegal address: {address}")
    for tag in _list(body.get("EmailTags", []), "EmailTags"):
        tag = _object(tag, "EmailTags[]")
        for part in ("Name", "Value"):
            if not isinstance(tag.get(part), str) or not _TAG.fullmatch(tag[part]):
                raise BadRequest(f"Invalid tag {part.lower()}: {tag.get(part)!r}. Only ASCII "
                                 "letters, digits, '_' and '-' are allowed, up to 256.")
    if "Simple" in content:
        _check_simple(_object(content["Simple"], "Content.Simple"))
        if body.get("FromEmailAddress") is None:
            raise BadRequest("Missing required field FromEmailAddress.")
    elif "Raw" in content:
        _raw_message(_object(content["Raw"], "Content.Raw"))
    if len(_addresses(body)) > MAX_RECIPIENTS:
        raise BadRequest(f"Recipient count exceeds {MAX_RECIPIENTS}.")
    if not _addresses(body):
        raise BadRequest("Destination must name at least one recipient.")
    return body


def _check_simple(simple: dict[str, Any]) -> None:
    subject = _object(simple.get("Subject"), "Subject")
    if not isinstance(subject.get("Data"), str):
        raise BadRequest("Missing required field Subject.Data.")
    parts = _object(simple.get("Body"), "Body")
    if not any(isinstance(_object(parts.get(p, {}), p).get("Data"), str)
               for p in ("Text", "Html")):
        raise BadRequest("Body must hold Text or Html.")
    headers = _list(simple.get("Headers", []), "Headers")
    if len(headers) > 15:
        raise BadRequest("A message may carry at most 15 headers.")
    for header in headers:
        header = _object(header, "Headers[]")
        if not isinstance(header.get("Name"), str) or not _HEADER_NAME.fullmatch(header["Name"]):
            raise BadRequest(f"Invalid header name: {header.get('Name')!r}")
        if not isinstance(header.get("Value"), str) or not 0 < len(header["Value"]) <= 995:
            raise BadRequest(f"Invalid value of header {header['Name']}")


def _raw_message(raw: dict[str, Any]) -> EmailMessage:
    data = raw.get("Data")
    if not isinstance(data, str):
        raise BadRequest("Missing required field Content.Raw.Data.")
    try:
        decoded = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("Content.Raw.Data is not valid base64.") from None
    message = message_from_bytes(decoded, policy=default_policy)
    if message.defects or not message.keys():
        raise BadRequest("The raw message is not a valid MIME message.")
    return message


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(f"{field} must be an object.")
    return value


def _list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise BadRequest(f"{field} must be a list.")
    return value


def _strings(value: Any, field: str) -> list[str]:
    items = _list(value, field)
    if not all(isinstance(item, str) for item in items):
        raise BadRequest(f"{field} must be a list of strings.")
    return items


def _mailbox(value: str) -> tuple[str | None, str | None]:
    """``(address, display name)`` of one ``"Name <addr>"`` or bare address (RFC 2047 names
    decoded); ``(None, None)`` when it is not one mailbox."""
    try:
        header = default_policy.header_factory("to", value)
        addresses: tuple[Address, ...] = getattr(header, "addresses", ())
    except (IndexError, ValueError):
        return None, None
    if len(addresses) != 1 or header.defects or "@" not in addresses[0].addr_spec:
        return None, None
    return addresses[0].addr_spec, addresses[0].display_name or None


def _addresses(body: dict[str, Any]) -> list[tuple[str, str]]:
    """``(field, formatted address)`` of every recipient, in Destination's order."""
    destination = body.get("Destination") or {}
    return [
        (field, address)
        for field, key in (("to", "ToAddresses"), ("cc", "CcAddresses"), ("bcc", "BccAddresses"))
        for address in destination.get(key, [])
    ]


def _parts(body: dict[str, Any]) -> dict[str, Any]:
    """Subject, html, text, headers and attachments, from ``Simple`` or the ``Raw`` MIME."""
    content = body["Content"]
    if "Raw" in content:
        return _raw_parts(_raw_message(content["Raw"]))
    simple = content.get("Simple") or {}
    parts = simple.get("Body") or {}
    return {
        "subject": (simple.get("Subject") or {}).get("Data"),
        "html": (parts.get("Html") or {}).get("Data"),
        "text": (parts.get("Text") or {}).get("Data"),
        "headers": {item["Name"]: item["Value"] for item in simple.get("Headers", [])},
        "attachments": (),
        "from": body.get("FromEmailAddress"),
    }


def _raw_parts(message: EmailMessage) -> dict[str, Any]:
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    attachments = []
    for part in message.walk():
        if part.is_multipart() or part in (html, text):
            continue
        content_id = part.get("Content-ID")
        attachments.append(CapturedAttachment(
            filename=part.get_filename() or "",
            content_type=part.get_content_type(),
            content=_payload(part),
            content_id=content_id.strip().strip("<>") if content_id else None,
        ))
    standard = {"from", "to", "cc", "reply-to", "subject", "mime-version", "content-type",
                "content-transfer-encoding"}
    return {
        "subject": message["Subject"],
        "html": html.get_content() if html is not None else None,
        "text": text.get_content() if text is not None else None,
        "headers": {name: str(value) for name, value in message.items()
                    if name.lower() not in standard},
        "attachments": tuple(attachments),
        "from": message["From"],
    }


def _payload(part: EmailMessage) -> bytes:
    """A MIME part's content, transfer encoding undone: the attachment's own bytes."""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _captured(state: ProviderState, body: dict[str, Any], message_id: str) -> list[CapturedMessage]:
    parts = _parts(body)
    sender_email, sender_name = _mailbox(str(parts["from"] or ""))
    recipients = _addresses(body)
    by_field = {kind: tuple(a for f, a in recipients if f == kind) for kind in ("to", "cc", "bcc")}
    tags = {tag["Name"]: tag["Value"] for tag in body.get("EmailTags", [])}
    received_at = state.clock()
    captured = []
    for field, address in recipients:
        email, name = _mailbox(address)
        captured.append(CapturedMessage(
            message_id=message_id, to=email or address, to_name=name, from_email=sender_email,
            from_name=sender_name, subject=parts["subject"], html=parts["html"],
            text=parts["text"], metadata=tags, received_at=received_at, addressed_as=field,
            to_all=by_field["to"], cc=by_field["cc"], bcc=by_field["bcc"],
            reply_to=tuple(body.get("ReplyToAddresses", [])),
            attachments=parts["attachments"], headers=parts["headers"],
        ))
    return captured


def _message_id(state: ProviderState) -> str:
    """An id shaped like SES's ``MessageId`` (``0100…-<uuid>-000000``)."""
    random_id = uuid.UUID(int=state.rng.getrandbits(128))
    return f"0100{state.rng.getrandbits(48):012x}-{random_id}-000000"


def make_router(state: ProviderState, input_shape: Shape | None = None) -> APIRouter:
    """The fake's routes, bound to its state; ``input_shape`` adds the spec's own check."""
    router = APIRouter(tags=["ses"])
    secrets = {ACCESS_KEY_ID: state.api_key or SANDBOX_API_KEY}

    @router.post(SEND_PATH)
    async def send_email(request: Request) -> Response:
        fault = await state.injected_fault()
        if fault is not None:
            error_type, message = FAULT_ERRORS.get(
                fault.status, ("InternalFailure" if fault.status >= 500 else
                               "BadRequestException", "Injected fault")
            )
            headers = ({"Retry-After": f"{fault.retry_after:g}"}
                       if fault.status == 429 and fault.retry_after is not None else None)
            return error_response(fault.status, error_type, message, headers)
        raw = await request.body()
        problem = signature_problem(
            method=request.method, url=str(request.url), headers=dict(request.headers),
            body=raw, service=SERVICE, secrets=secrets, now=state.clock(),
        )
        if problem is not None:
            state.capture.count_rejected()
            return error_response(403, problem.error_type, problem.message)
        try:
            body = validate_send_email(json.loads(raw), input_shape)
        except (ValueError, BadRequest) as exc:
            state.capture.count_rejected()
            text = str(exc) if isinstance(exc, BadRequest) else "Malformed JSON body."
            return error_response(400, "BadRequestException", text)
        simulation = await simulate(_mailbox(a)[0] or a for _, a in _addresses(body))
        if simulation.unavailable:
            state.capture.count_rejected()
            return error_response(503, "ServiceUnavailable", FAULT_ERRORS[503][1])
        if simulation.refused:
            state.capture.count_rejected()
            return error_response(400, *RECIPIENT_REFUSAL)
        message_id = _message_id(state)
        for captured in _captured(state, body, message_id):
            state.capture.record(captured)
        return JSONResponse({"MessageId": message_id},
                            headers={"x-amzn-RequestId": str(uuid.uuid4())})

    return router


__all__ = [
    "ACCESS_KEY_ID",
    "FAULT_ERRORS",
    "MAX_RECIPIENTS",
    "RECIPIENT_REFUSAL",
    "SEND_PATH",
    "BadRequest",
    "error_response",
    "make_router",
    "validate_send_email",
]
