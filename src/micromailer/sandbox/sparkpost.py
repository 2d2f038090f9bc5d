"""Fake SparkPost: ``POST /api/v1/transmissions`` with SparkPost's auth, checks and errors."""

from __future__ import annotations

import base64
import binascii
import json
from email.policy import default as default_policy
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from micromailer.sandbox.capture import CapturedAttachment, CapturedMessage, ProviderState
from micromailer.sandbox.simulator import simulate

SEND_PATH = "/api/v1/transmissions"
MAX_TAGS = 10
#: Headers SparkPost sets itself and refuses in ``content.headers`` (transmissions.apib).
RESERVED_HEADERS = frozenset({"subject", "from", "to", "reply-to", "content-type",
                              "content-transfer-encoding"})

#: ``(message, description, code)`` of one SparkPost error.
Error = tuple[str, str | None, str | None]

#: Texts of SparkPost's error table (index.apib "Error Table"), by status, for injected faults.
FAULT_ERRORS: dict[int, Error] = {
    400: ("Bad Request", "There is a problem with your request", None),
    401: ("Unauthorized.", None, None),
    403: ("Forbidden.", None, None),
    404: ("Not Found", None, None),
    405: ("Method Not Allowed", None, None),
    409: ("Conflict", None, None),
    413: ("Request Entity Too Large", None, None),
    415: ("Unsupported Media Type", None, None),
    420: ("Exceed Sending Limit", "Sending limits exceeded", "2102"),
    422: ("Unprocessable Entity", None, None),
    429: ("Too Many Requests", None, None),
    500: ("Internal Server Error", None, None),
    503: ("Service Unavailable", None, None),
}
#: How SparkPost refuses a suppressed recipient (the simulator's ``perm-fail@``).
SUPPRESSED: Error = (
    "Message generation rejected", "recipient address suppressed due to customer policy", "1902"
)


def error_response(
    status: int, errors: list[Error], headers: dict[str, str] | None = None
) -> JSONResponse:
    """SparkPost's error body: ``{"errors": [{"message", "description"?, "code"?}]}``."""
    body = {"errors": [
        {key: value for key, value in (("message", message), ("description", description),
                                       ("code", code)) if value is not None}
        for message, description, code in errors
    ]}
    return JSONResponse(body, status_code=status, headers=headers)


def _required(description: str) -> Error:
    return ("required field is missing", description, "1400")


def _invalid(description: str) -> Error:
    return ("invalid data format/type", description, "1300")


def validate_transmission(body: Any) -> list[Error]:
    """The 422 errors SparkPost would answer for this transmission (empty: valid)."""
    if not isinstance(body, dict):
        return [_invalid("Problems parsing request as json")]
    errors: list[Error] = []
    recipients = body.get("recipients")
    if not isinstance(recipients, list) or not recipients:
        errors.append(_required("recipients or list_id required"))
        recipients = []
    for index, recipient in enumerate(recipients):
        address = recipient.get("address") if isinstance(recipient, dict) else None
        email = address.get("email") if isinstance(address, dict) else address
        if not _is_address(email):
            errors.append(_invalid(f"Invalid email address: recipients[{index}].address"))
        tags = recipient.get("tags", []) if isinstance(recipient, dict) else []
        if not isinstance(tags, list) or len(tags) > MAX_TAGS:
            errors.append(_invalid(f"recipients[{index}].tags: at most {MAX_TAGS} tags"))
    content = body.get("content")
    if not isinstance(content, dict):
        return [*errors, _required("content object is required")]
    sender = content.get("from")
    sender_email = sender.get("email") if isinstance(sender, dict) else sender
    if not _is_address(sender_email):
        errors.append(_required("content.from is a required field"))
    if not isinstance(content.get("subject"), str) or not content["subject"]:
        errors.append(_required("content.subject is a required field"))
    if not any(isinstance(content.get(part), str) and content[part] for part in ("html", "text")):
        errors.append(_required("At least one of text or html needs to exist in content"))
    headers = content.get("headers", {})
    if not isinstance(headers, dict):
        errors.append(_invalid("content.headers must be an object"))
    else:
        errors.extend(_invalid(f"content.headers: {name} is not allowed")
                      for name in headers if name.lower() in RESERVED_HEADERS)
    for field in ("attachments", "inline_images"):
        for index, item in enumerate(content.get(field, [])):
            if _decoded(item) is None:
                errors.append(_invalid(f"content.{field}[{index}] needs name (at most 255 "
                                       "bytes), type and base64 data"))
    if "metadata" in body and not isinstance(body["metadata"], dict):
        errors.append(_invalid("metadata must be an object"))
    return errors


def _is_address(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    local, at, domain = value.rpartition("@")
    return bool(local and at and domain) and " " not in value


def _decoded(item: Any) -> bytes | None:
    """An attachment's bytes, or ``None`` when it is not ``{name, type, data}`` as SparkPost
    takes it (base64 without line breaks, a name of 255 bytes at most)."""
    if not isinstance(item, dict) or not all(isinstance(item.get(k), str)
                                             for k in ("name", "type", "data")):
        return None
    if not item["name"] or len(item["name"].encode()) > 255 or not item["type"]:
        return None
    try:
        return base64.b64decode(item["data"], validate=True)
    except (binascii.Error, ValueError):
        return None


def _key(request: Request) -> str | None:
    """The API key: the raw ``Authorization`` value, or Basic with the key as the user."""
    value = request.headers.get("authorization", "").strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "basic" and rest:
        try:
            user = base64.b64decode(rest, validate=True).decode().partition(":")[0]
        except (binascii.Error, ValueError):
            return None
        return user or None
    return value or None


def _mailboxes(header: str | None) -> dict[str, str]:
    """The mailboxes of a To/CC header value: lower-cased address → as written."""
    if not header:
        return {}
    parsed = default_policy.header_factory("to", header)
    return {item.addr_spec.lower(): str(item) for item in getattr(parsed, "addresses", ())}


def _captured(
    state: ProviderState, body: dict[str, Any], message_id: str, refused: set[str]
) -> list[CapturedMessage]:
    content = body["content"]
    headers = {str(k): str(v) for k, v in (content.get("headers") or {}).items()}
    cc_header = next((v for k, v in headers.items() if k.lower() == "cc"), None)
    sender = content["from"] if isinstance(content["from"], dict) else {"email": content["from"]}
    attachments = tuple(
        CapturedAttachment(filename=item["name"], content_type=item["type"],
                           content=_decoded(item) or b"", content_id=item["name"] if inline
                           else None)
        for field, inline in (("attachments", False), ("inline_images", True))
        for item in content.get(field, [])
    )
    people = [(r["address"] if isinstance(r["address"], dict) else {"email": r["address"]}, r)
              for r in body["recipients"]]
    header_to = next((a.get("header_to") for a, _ in people if a.get("header_to")), None)
    to_header = _mailboxes(header_to) or {a["email"].lower(): a["email"] for a, _ in people}
    cc_header_boxes = _mailboxes(cc_header)
    kinds = {a["email"]: ("to" if a["email"].lower() in to_header else
                          "cc" if a["email"].lower() in cc_header_boxes else "bcc")
             for a, _ in people}
    to_all, cc = tuple(to_header.values()), tuple(cc_header_boxes.values())
    bcc = tuple(email for email, kind in kinds.items() if kind == "bcc")
    received_at = state.clock()
    return [
        CapturedMessage(
            message_id=message_id, to=address["email"], to_name=address.get("name"),
            from_email=sender.get("email"), from_name=sender.get("name"),
            subject=content.get("subject"), html=content.get("html"), text=content.get("text"),
            metadata={**(body.get("metadata") or {}), **(recipient.get("metadata") or {})},
            received_at=received_at, addressed_as=kinds[address["email"]], to_all=to_all,
            cc=cc, bcc=bcc,
            reply_to=(content["reply_to"],) if content.get("reply_to") else (),
            attachments=attachments, headers=headers, tags=tuple(recipient.get("tags") or ()),
        )
        for address, recipient in people
        if address["email"].lower() not in refused
    ]


def make_router(state: ProviderState) -> APIRouter:
    """The fake's routes, bound to its state."""
    router = APIRouter(tags=["sparkpost"])

    @router.post(SEND_PATH)
    async def create_transmission(request: Request) -> Response:
        fault = await state.injected_fault()
        if fault is not None:
            error = FAULT_ERRORS.get(fault.status, ("Injected fault", None, None))
            headers = ({"Retry-After": f"{fault.retry_after:g}"}
                       if fault.status == 429 and fault.retry_after is not None else None)
            return error_response(fault.status, [error], headers)
        if not state.key_matches(_key(request)):
            state.capture.count_rejected()
            return error_response(401, [FAULT_ERRORS[401]])
        try:
            body = json.loads(await request.body())
        except ValueError:
            state.capture.count_rejected()
            return error_response(400, [_invalid("Problems parsing request as json")])
        errors = validate_transmission(body)
        if errors:
            state.capture.count_rejected()
            return error_response(422 if isinstance(body, dict) else 400, errors)
        emails = [r["address"]["email"] if isinstance(r["address"], dict) else r["address"]
                  for r in body["recipients"]]
        simulation = await simulate(emails)
        if simulation.unavailable:
            state.capture.count_rejected()
            return error_response(503, [FAULT_ERRORS[503]])
        refused = {email.lower() for email in emails if simulation.refuses(email)}
        if len(refused) == len(emails):
            state.capture.count_rejected()
            return error_response(400, [SUPPRESSED])
        message_id = str(state.rng.getrandbits(63))
        for captured in _captured(state, body, message_id, refused):
            state.capture.record(captured)
        if refused:
            state.capture.count_rejected(len(refused))
        return JSONResponse({"results": {
            "total_rejected_recipients": len(refused),
            "total_accepted_recipients": len(emails) - len(refused),
            "id": message_id,
        }})

    return router


__all__ = [
    "FAULT_ERRORS",
    "MAX_TAGS",
    "RESERVED_HEADERS",
    "SEND_PATH",
    "SUPPRESSED",
    "error_response",
    "make_router",
    "validate_transmission",
]
