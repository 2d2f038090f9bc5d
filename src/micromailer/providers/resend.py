"""Resend adapter: ``POST /emails`` of the Resend API."""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx

from micromailer.domain.message import Attachment, Message
from micromailer.providers.base import (
    ProviderAdapter,
    SendResult,
    StatusClasses,
    provider_error,
    status_class,
)
from micromailer.providers.capabilities import MIB, Capabilities
from micromailer.providers.errors import (
    AccountError,
    AuthError,
    ProviderError,
    RateLimitedError,
    RecipientRejectedError,
    RequestRejectedError,
    ServerError,
)

#: Path of the send endpoint below the base URL (``https://api.resend.com``).
SEND_PATH = "/emails"

#: Every error Resend's errors page documents, by ``(status, name)`` → the error it means.
#: The same name can mean different things under different statuses (``validation_error``).
ERROR_CLASSES: dict[tuple[int, str], type[ProviderError]] = {
    (400, "invalid_idempotency_key"): RequestRejectedError,
    (400, "validation_error"): RequestRejectedError,
    (401, "missing_api_key"): AuthError,
    (401, "restricted_api_key"): AuthError,
    (401, "validation_error"): AuthError,  # "API key is invalid" on the sending endpoints
    (403, "invalid_api_key"): AuthError,
    # Testing-only sender or unverified domain: no email from this sender can pass here.
    (403, "validation_error"): AccountError,
    (404, "not_found"): RequestRejectedError,
    (405, "method_not_allowed"): RequestRejectedError,
    # Same Idempotency-Key (the email id), another body: retrying it cannot pass.
    (409, "invalid_idempotent_request"): RequestRejectedError,
    # The first request with this key is still in flight: later, the key answers for it.
    (409, "concurrent_idempotent_requests"): ServerError,
    (422, "invalid_attachment"): RequestRejectedError,
    (422, "invalid_from_address"): RequestRejectedError,
    (422, "invalid_access"): RequestRejectedError,
    (422, "invalid_parameter"): RequestRejectedError,
    (422, "invalid_region"): RequestRejectedError,
    (422, "missing_required_field"): RequestRejectedError,
    (422, "validation_error"): RequestRejectedError,  # a field's format (RECIPIENT_FIELD)
    (429, "rate_limit_exceeded"): RateLimitedError,
    # The account's daily or monthly quota: every email would meet it until it resets.
    (429, "daily_quota_exceeded"): AccountError,
    (429, "monthly_quota_exceeded"): AccountError,
    (451, "security_error"): RequestRejectedError,
    (500, "application_error"): ServerError,
    (500, "internal_server_error"): ServerError,
}

#: Each status of :data:`ERROR_CLASSES` → what it means when the ``name`` is unknown.
STATUS_CLASSES: StatusClasses = {
    400: RequestRejectedError,
    401: AuthError,
    403: AuthError,
    404: RequestRejectedError,
    405: RequestRejectedError,
    409: ServerError,
    422: RequestRejectedError,
    429: RateLimitedError,
    451: RequestRejectedError,
    500: ServerError,
    502: ServerError,
    503: ServerError,
    504: ServerError,
}

#: A ``validation_error`` message about a recipient's address: Resend refuses the format.
RECIPIENT_FIELD = re.compile(r"Invalid `(?:to|cc|bcc)` field", re.IGNORECASE)

#: What a tag's name and value may hold (Resend's ``Tag`` schema); anything else becomes ``_``.
TAG_FORBIDDEN = re.compile(r"[^A-Za-z0-9_-]")
MAX_TAG_LENGTH = 256


class ResendAdapter(ProviderAdapter):
    """Resend: bearer key, JSON body, ``200`` with ``{"id"}``, ``Idempotency-Key`` = email id.

    The key makes a retry of the same email safe: if an earlier call got through, Resend
    answers it again (same id) without sending twice, for 24 hours. Errors
    ``{"statusCode", "name", "message"}`` are classified by :data:`ERROR_CLASSES`, else by
    :data:`STATUS_CLASSES`.
    """

    kind = "resend"
    status_classes = STATUS_CLASSES
    # resend.com/docs/dashboard/emails/attachments: 40 MB per email, attachments counted after
    # base64. ``to`` takes 50 (the spec's ``maxItems``): 50 for every recipient together.
    # resend.com/docs/knowledge-base/what-attachment-types-are-not-supported: these extensions.
    capabilities = Capabilities(
        max_recipients=50,
        max_bytes=40 * MIB,
        blocked_extensions=frozenset({
            "adp", "app", "asp", "bas", "bat", "cer", "chm", "cmd", "com", "cpl", "crt", "csh",
            "der", "exe", "fxp", "gadget", "hlp", "hta", "inf", "ins", "isp", "its", "js",
            "jse", "ksh", "lib", "lnk", "mad", "maf", "mag", "mam", "maq", "mar", "mas", "mat",
            "mau", "mav", "maw", "mda", "mdb", "mde", "mdt", "mdw", "mdz", "msc", "msh",
            "msh1", "msh2", "mshxml", "msh1xml", "msh2xml", "msi", "msp", "mst", "ops", "pcd",
            "pif", "plg", "prf", "prg", "reg", "scf", "scr", "sct", "shb", "shs", "sys", "ps1",
            "ps1xml", "ps2", "ps2xml", "psc1", "psc2", "tmp", "url", "vb", "vbe", "vbs", "vps",
            "vsmacros", "vss", "vst", "vsw", "vxd", "ws", "wsc", "wsf", "wsh", "xnk",
        }),
    )
    # resend.com/docs/api-reference/rate-limit: seconds until the window resets.
    reset_headers = ("ratelimit-reset",)

    def build_request(self, message: Message) -> httpx.Request:
        return self._client.build_request(
            "POST",
            f"{self.base_url}{SEND_PATH}",
            json=build_payload(message),
            headers={
                "Authorization": f"Bearer {self._api_key}",
                "Idempotency-Key": message.email_id,
            },
        )

    def parse_success(self, response: httpx.Response) -> SendResult:
        body = _json_object(response)
        message_id = body.get("id") if body else None
        return SendResult(self.name, str(message_id) if message_id else None, raw=body)

    def raise_for_error(self, response: httpx.Response) -> None:
        error = _json_object(response) or {}
        name = str(error.get("name", ""))
        error_class = ERROR_CLASSES.get((response.status_code, name)) or status_class(
            STATUS_CLASSES, response.status_code
        )
        if name == "validation_error" and RECIPIENT_FIELD.search(str(error.get("message", ""))):
            error_class = RecipientRejectedError
        raise provider_error(
            error_class, self.name, self.error_reason(response), response, self.reset_headers
        )

    def error_reason(self, response: httpx.Response) -> str:
        """``"<name>: <message>"`` from Resend's error body, else the status phrase."""
        error = _json_object(response)
        if error and error.get("message"):
            name = error.get("name")
            return f"{name}: {error['message']}" if name else str(error["message"])
        return super().error_reason(response)


def build_payload(message: Message) -> dict[str, Any]:
    """The ``SendEmailRequest`` JSON body for one message."""
    body: dict[str, Any] = {
        "from": message.sender.formatted(),
        "to": [item.formatted() for item in message.to],
        "subject": message.subject,
    }
    if message.cc:
        body["cc"] = [item.formatted() for item in message.cc]
    if message.bcc:
        body["bcc"] = [item.formatted() for item in message.bcc]
    if message.reply_to:
        body["reply_to"] = [item.formatted() for item in message.reply_to]
    if message.html:
        body["html"] = message.html
    if message.text:
        body["text"] = message.text
    if message.attachments:
        body["attachments"] = [_attachment(item) for item in message.attachments]
    if message.headers:
        body["headers"] = dict(message.headers)
    body["tags"] = tags(message)
    return body


def tags(message: Message) -> list[dict[str, str]]:
    """Resend tags: ``email_id``, then each metadata pair, then each tag as ``<tag>: "true"``.

    Names and values keep only ASCII letters, digits, ``_`` and ``-`` (others become ``_``;
    at most 256); a name already taken keeps its first value, so ``email_id`` always wins.
    """
    pairs = [("email_id", message.email_id), *message.metadata]
    pairs += [(tag, "true") for tag in message.tags]
    named: dict[str, str] = {}
    for name, value in pairs:
        named.setdefault(tag_text(name), tag_text(value))
    return [{"name": name, "value": value} for name, value in named.items()]


def tag_text(text: str) -> str:
    """``text`` as Resend allows in a tag: its character set, 1 to 256 characters."""
    return TAG_FORBIDDEN.sub("_", text)[:MAX_TAG_LENGTH] or "_"


def _attachment(item: Attachment) -> dict[str, str]:
    attachment = {
        "filename": item.filename,
        "content": base64.b64encode(item.content).decode("ascii"),
        "content_type": item.content_type,
    }
    if item.content_id is not None:
        attachment["content_id"] = item.content_id
    return attachment


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


__all__ = [
    "ERROR_CLASSES",
    "RECIPIENT_FIELD",
    "SEND_PATH",
    "STATUS_CLASSES",
    "ResendAdapter",
    "build_payload",
    "tag_text",
    "tags",
]
