"""Fake Mandrill: ``messages/send`` with the key in the body and per-recipient results."""

from __future__ import annotations

import base64
import binascii
import json
from email.utils import formataddr, getaddresses
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from micromailer.domain.message import Address
from micromailer.sandbox.capture import CapturedAttachment, CapturedMessage, ProviderState
from micromailer.sandbox.simulator import Simulation, simulate

#: Every path the fake answers on: the classic ``.json`` form, without it, and the spec's v1.4.
SEND_PATHS = ("/api/1.0/messages/send.json", "/api/1.0/messages/send", "/api/1.4/messages/send")

#: Deterministic refusals: local-part prefix → (status, reject_reason).
REJECT_RULES: dict[str, tuple[str, str | None]] = {
    "reject": ("rejected", "hard-bounce"),
    "invalid": ("invalid", None),
}

#: Every ``reject_reason`` Mandrill documents; ``reject+<reason>@…`` is rejected with it.
REJECT_REASONS = frozenset({
    "hard-bounce", "soft-bounce", "spam", "unsub", "custom", "invalid-sender", "invalid",
    "test-mode-limit", "unsigned", "rule",
})

#: HTTP status → Mandrill's error (name, code, message), following the spec's responses.
ERRORS_BY_STATUS: dict[int, tuple[str, int, str]] = {
    401: ("Invalid_Key", 401, "Invalid API key"),
    403: ("Invalid_Key", 401, "Invalid API key"),
    402: ("PaymentRequired", 10, "A paid plan is required to use this feature."),
    404: ("Unknown_Subaccount", 12, "No subaccount exists with the id sandbox"),
    429: ("RequestLimitExceeded", 429, "Too Many Requests attempted recently"),
    503: ("ServiceUnavailable", -2, "Service Temporarily Unavailable"),
}
_OTHER_4XX = ("ValidationError", -2, "Validation error: injected fault")
_OTHER_5XX = (
    "GeneralError",
    -1,
    "An unknown error occurred processing your request. Please try again later.",
)


def error_response(
    status: int, name: str, code: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Mandrill's error body: ``{"status": "error", "code", "name", "message"}``."""
    body = {"status": "error", "code": code, "name": name, "message": message}
    return JSONResponse(body, status_code=status, headers=headers)


def fault_response(status: int, retry_after: float | None) -> JSONResponse:
    name, code, message = ERRORS_BY_STATUS.get(status, _OTHER_5XX if status >= 500 else _OTHER_4XX)
    headers = (
        {"Retry-After": f"{retry_after:g}"} if status == 429 and retry_after is not None else None
    )
    return error_response(status, name, code, message, headers)


def validation_error(detail: dict[str, Any]) -> JSONResponse:
    return error_response(422, "ValidationError", -2, f"Validation error: {json.dumps(detail)}")


def recipient_status(email: str) -> tuple[str, str | None]:
    """``("sent", None)``, or the refusal that :data:`REJECT_RULES` give this address;
    ``reject+<reason>@…`` names any of :data:`REJECT_REASONS`."""
    local, at, domain = email.rpartition("@")
    if not (local and at and domain) or " " in email:
        return "invalid", None
    prefix, _, tag = local.lower().partition("+")
    if prefix == "reject" and tag in REJECT_REASONS:
        return "rejected", tag
    for prefix, outcome in REJECT_RULES.items():
        if local.lower().startswith(prefix):
            return outcome
    return "sent", None


#: Mandrill's limits: a request's JSON under 10 MB; more than 10 recipients go asynchronously
#: (``async`` in the spec): every result is then ``queued``, refusals come later by webhook.
MAX_BODY_BYTES = 10 * 1000 * 1000
SYNC_RECIPIENTS = 10
RECIPIENT_TYPES = ("to", "cc", "bcc")
STRING_FIELDS = ("html", "text", "subject", "from_email", "from_name")


def _validate_message(message: Any) -> JSONResponse | None:
    """Mandrill's ``ValidationError`` for the first rule the message breaks, else ``None``."""
    if not isinstance(message, dict):
        return validation_error({"message": "Please enter a struct/associative array"})
    to = message.get("to")
    if not isinstance(to, list) or not to:
        return validation_error({"message": {"to": "Please enter an array"}})
    for recipient in to:
        if not isinstance(recipient, dict) or not isinstance(recipient.get("email"), str):
            return validation_error({"message": {"to": {"email": "Please enter a valid email"}}})
        if recipient.get("type", "to") not in RECIPIENT_TYPES:
            return validation_error(
                {"message": {"to": {"type": "Please enter one of: to, cc, bcc"}}}
            )
    for field in STRING_FIELDS:
        if message.get(field) is not None and not isinstance(message[field], str):
            return validation_error({"message": {field: "Please enter a string"}})
    for field in ("metadata", "headers"):
        if message.get(field) is not None and not isinstance(message[field], dict):
            return validation_error({"message": {field: "Please enter a struct/associative array"}})
    for value in (message.get("headers") or {}).values():
        if not isinstance(value, str):
            return validation_error({"message": {"headers": "Please enter a string"}})
    tags = message.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        return validation_error({"message": {"tags": "Please enter an array of strings"}})
    if any(tag.startswith("_") for tag in tags):
        return validation_error({"message": {"tags": "Tags may not start with an underscore"}})
    return _files_error(message)


def _files_error(message: dict[str, Any]) -> JSONResponse | None:
    """``attachments[]`` and ``images[]``: ``{type, name, content}`` strings, content base64,
    an image's type ``image/*``."""
    for field in ("attachments", "images"):
        items = message.get(field) or []
        if not isinstance(items, list):
            return validation_error({"message": {field: "Please enter an array"}})
        for item in items:
            if not isinstance(item, dict) or not all(
                isinstance(item.get(key), str) for key in ("type", "name", "content")
            ):
                return validation_error(
                    {"message": {field: "Please enter a type, a name and a content"}}
                )
            if _decoded(item["content"]) is None:
                return validation_error({"message": {field: {"content": "Invalid base64"}}})
            if field == "images" and not item["type"].lower().startswith("image/"):
                return validation_error(
                    {"message": {"images": {"type": "The type must start with image/"}}}
                )
    return None


def _decoded(content: str) -> bytes | None:
    try:
        return base64.b64decode(content, validate=True)
    except binascii.Error:
        return None


#: How Mandrill refuses the simulator's ``perm-fail@``: a hard bounce on the rejection list.
SIMULATED_REFUSAL: tuple[str, str | None] = ("rejected", "hard-bounce")


def _formatted(recipients: list[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(Address(r["email"], r.get("name") or None).formatted() for r in recipients)


def _whole_message(message: dict[str, Any]) -> dict[str, Any]:
    """What every recipient's :class:`CapturedMessage` says of the whole message."""
    recipients = message["to"]
    headers = dict(message.get("headers") or {})
    attachments = [
        CapturedAttachment(item["name"], item["type"], _decoded(item["content"]) or b"")
        for item in message.get("attachments") or []
    ] + [
        CapturedAttachment(item["name"], item["type"], _decoded(item["content"]) or b"",
                           content_id=item["name"])
        for item in message.get("images") or []
    ]
    return {
        "to_all": _formatted([r for r in recipients if r.get("type", "to") == "to"]),
        "cc": _formatted([r for r in recipients if r.get("type") == "cc"]),
        "bcc": _formatted([r for r in recipients if r.get("type") == "bcc"]),
        "reply_to": tuple(
            formataddr(pair) for pair in getaddresses([headers.get("Reply-To", "")]) if pair[1]
        ),
        "attachments": tuple(attachments),
        "headers": headers,
        "tags": tuple(message.get("tags") or ()),
    }


def _accept(
    state: ProviderState, message: dict[str, Any], simulation: Simulation, queued: bool
) -> list[dict[str, Any]]:
    """Record each accepted recipient and build the per-recipient results; ``queued``: the
    asynchronous mode, where every result says ``queued``."""
    received_at = state.clock()
    whole = _whole_message(message)
    results = []
    for recipient in message["to"]:
        email: str = recipient["email"]
        status, reject_reason = (
            SIMULATED_REFUSAL if simulation.refuses(email) else recipient_status(email)
        )
        message_id = state.hex_id()
        result: dict[str, Any] = {"email": email, "status": status, "_id": message_id,
                                  "reject_reason": reject_reason}
        if queued:
            result.update(status="queued", reject_reason=None,
                          queued_reason="multiple-recipients")
        results.append(result)
        if status != "sent":
            state.capture.count_rejected()
            continue
        state.capture.record(
            CapturedMessage(
                message_id=message_id,
                to=email,
                to_name=recipient.get("name"),
                from_email=message.get("from_email"),
                from_name=message.get("from_name"),
                subject=message.get("subject"),
                html=message.get("html"),
                text=message.get("text"),
                metadata=message.get("metadata") or {},
                received_at=received_at,
                addressed_as=recipient.get("type") or "to",
                **whole,
            )
        )
    return results


def make_router(state: ProviderState) -> APIRouter:
    """The fake's routes, bound to its state."""
    router = APIRouter(tags=["mandrill"])

    async def send_message(request: Request) -> Response:
        fault = await state.injected_fault()
        if fault is not None:
            return fault_response(fault.status, fault.retry_after)
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            state.capture.count_rejected()
            return validation_error({"body": "The request must be smaller than 10 MB"})
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            state.capture.count_rejected()
            return validation_error({"body": "Please send a JSON object"})
        key = body.get("key")
        if not isinstance(key, str) or not state.key_matches(key):
            state.capture.count_rejected()
            message = (
                "Invalid API key"
                if isinstance(key, str) and key
                else "You must specify a key value"
            )
            return error_response(401, "Invalid_Key", 401, message)
        invalid = _validate_message(body.get("message"))
        if invalid is not None:
            state.capture.count_rejected()
            return invalid
        mail = body["message"]
        simulation = await simulate(recipient["email"] for recipient in mail["to"])
        if simulation.unavailable:  # the simulator's temp-fail@
            state.capture.count_rejected()
            return fault_response(503, None)
        queued = bool(body.get("async")) or len(mail["to"]) > SYNC_RECIPIENTS
        return JSONResponse(_accept(state, mail, simulation, queued))

    for path in SEND_PATHS:
        router.add_api_route(path, send_message, methods=["POST"])
    return router


__all__ = [
    "ERRORS_BY_STATUS",
    "MAX_BODY_BYTES",
    "REJECT_REASONS",
    "REJECT_RULES",
    "SEND_PATHS",
    "SIMULATED_REFUSAL",
    "SYNC_RECIPIENTS",
    "error_response",
    "fault_response",
    "make_router",
    "recipient_status",
]
