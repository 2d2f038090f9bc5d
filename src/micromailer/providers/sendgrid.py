"""SendGrid adapter: ``POST /v3/mail/send`` of the Twilio SendGrid v3 Mail Send API."""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx

from micromailer.domain.message import Address, Attachment, Message
from micromailer.providers.base import (
    ProviderAdapter,
    SendResult,
    StatusClasses,
    provider_error,
)
from micromailer.providers.capabilities import Capabilities
from micromailer.providers.errors import (
    AuthError,
    RateLimitedError,
    RecipientRejectedError,
    RequestRejectedError,
    ServerError,
)

#: Path of the Mail Send endpoint below the base URL (``https://api.sendgrid.com``).
SEND_PATH = "/v3/mail/send"

#: Every error status Mail Send documents (its OpenAPI file, and the rate-limit page for
#: 429) → the error it means. docs/providers/sendgrid.md explains each row.
STATUS_CLASSES: StatusClasses = {
    400: RequestRejectedError,  # invalid request: bad JSON, bad or duplicate addresses
    401: AuthError,  # authorization required: missing or wrong key
    403: AuthError,  # access forbidden: key scope, unverified sender
    404: RequestRejectedError,  # wrong path
    405: RequestRejectedError,  # wrong method
    413: RequestRejectedError,  # content too large
    429: RateLimitedError,  # too many requests
    500: ServerError,  # internal server error
    502: ServerError,
    503: ServerError,
    504: ServerError,
}

#: SendGrid's limits (its "Mail Send limitations" page, CONTRACTS.md section 1): 1,000
#: recipients over to, cc and bcc, and 30 MB for the whole message, attachments included.
CAPABILITIES = Capabilities(max_recipients=1000, max_bytes=30 * 1000 * 1000)

#: The rate-limit page: ``X-RateLimit-Reset`` is the Unix time the limit resets at (no
#: ``Retry-After`` is documented).
RESET_HEADERS = ("X-RateLimit-Reset",)

#: ``mail_settings`` of a request in sandbox mode: SendGrid validates it, answers ``200`` and
#: sends nothing.
SANDBOX_MODE: dict[str, Any] = {"sandbox_mode": {"enable": True}}

#: ``categories`` holds at most 10 unique names (``MS/properties/categories``).
MAX_CATEGORIES = 10

#: The ``field`` of an error about one recipient's address (``personalizations.0.to.0.email``).
RECIPIENT_FIELD = re.compile(r"personalizations\.\d+\.(?:to|cc|bcc)\.\d+\.email")


class SendGridAdapter(ProviderAdapter):
    """Twilio SendGrid v3: bearer-key auth, JSON body, ``202`` with an ``X-Message-Id`` header.

    SendGrid refuses a recipient synchronously only when it finds the address invalid: a
    ``400`` whose every error names a recipient's address field (:data:`RECIPIENT_FIELD`) is a
    :class:`RecipientRejectedError`. Suppressed or bouncing addresses surface later as
    ``dropped``/``bounce`` events. Every other error is about the request or the account, and
    :data:`STATUS_CLASSES` classifies it.
    """

    kind = "sendgrid"
    status_classes = STATUS_CLASSES
    capabilities = CAPABILITIES
    reset_headers = RESET_HEADERS
    has_test_mode = True

    def build_request(self, message: Message, *, test_mode: bool = False) -> httpx.Request:
        """The Mail Send request; in ``test_mode`` with sandbox mode on (validated, answered
        ``200``, sent to nobody)."""
        body = build_payload(message)
        if test_mode:
            body["mail_settings"] = SANDBOX_MODE
        return self._client.build_request(
            "POST",
            f"{self.base_url}{SEND_PATH}",
            json=body,
            headers={"Authorization": f"Bearer {self._api_key}"},
        )

    def build_probe_request(self, message: Message) -> httpx.Request:
        return self.build_request(message, test_mode=True)

    def parse_success(self, response: httpx.Response) -> SendResult:
        message_id = response.headers.get("x-message-id") or None
        return SendResult(self.name, message_id, raw={"status": response.status_code})

    def raise_for_error(self, response: httpx.Response) -> None:
        if response.status_code == 400 and _only_recipient_errors(response):
            reason = f"recipient refused: {self.error_reason(response)}"
            raise provider_error(RecipientRejectedError, self.name, reason, response)
        super().raise_for_error(response)

    def error_reason(self, response: httpx.Response) -> str:
        """The first entry of ``{"errors": [{"message", "field", "help"}]}``, else the phrase."""
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            errors = data.get("errors")
            if isinstance(errors, list) and errors and isinstance(errors[0], dict):
                first = errors[0].get("message")
                if isinstance(first, str) and first:
                    return first
        return super().error_reason(response)


def _only_recipient_errors(response: httpx.Response) -> bool:
    """Whether every entry of SendGrid's ``errors`` is about a recipient's address."""
    try:
        data = response.json()
    except ValueError:
        return False
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list) or not errors:
        return False
    return all(
        isinstance(error, dict) and isinstance(error.get("field"), str)
        and RECIPIENT_FIELD.fullmatch(error["field"]) is not None
        for error in errors
    )


def build_payload(message: Message) -> dict[str, Any]:
    """The Mail Send JSON body of ``message``: one personalization, since every recipient sees
    the same message (to and cc in its headers, bcc hidden).

    ``custom_args`` sits in the personalization: the spec types the top-level field as a
    string (a known quirk) but the per-personalization one as an object of strings, and
    SendGrid echoes either into its events.
    """
    to, cc, bcc = _unique_recipients(message)
    personalization: dict[str, Any] = {"to": to}
    if cc:
        personalization["cc"] = cc
    if bcc:
        personalization["bcc"] = bcc
    personalization["custom_args"] = {**dict(message.metadata), "email_id": message.email_id}
    # SendGrid requires text/plain before text/html, and refuses empty content values.
    content = [
        {"type": mime, "value": value}
        for mime, value in (("text/plain", message.text), ("text/html", message.html))
        if value
    ]
    body: dict[str, Any] = {
        "personalizations": [personalization],
        "from": message.sender.to_json(),
        "subject": message.subject,
        "content": content,
    }
    if len(message.reply_to) == 1:
        body["reply_to"] = message.reply_to[0].to_json()
    elif message.reply_to:  # reply_to and reply_to_list exclude each other
        body["reply_to_list"] = [address.to_json() for address in message.reply_to]
    if message.headers:
        body["headers"] = dict(message.headers)
    if message.attachments:
        body["attachments"] = [_attachment(item) for item in message.attachments]
    categories = list(dict.fromkeys(message.tags))[:MAX_CATEGORIES]
    if categories:
        body["categories"] = categories
    return body


def _unique_recipients(message: Message) -> tuple[list[dict[str, str]], ...]:
    """``to``, ``cc`` and ``bcc`` as SendGrid objects, each address once: SendGrid refuses an
    address repeated within a personalization, so the first field that names it keeps it."""
    seen: set[str] = set()
    fields: list[list[dict[str, str]]] = []
    for addresses in (message.to, message.cc, message.bcc):
        kept: list[Address] = []
        for address in addresses:
            if address.email.lower() not in seen:
                seen.add(address.email.lower())
                kept.append(address)
        fields.append([address.to_json() for address in kept])
    return tuple(fields)


def _attachment(attachment: Attachment) -> dict[str, str]:
    """A file (``disposition: attachment``) or an inline image (``inline`` + ``content_id``)."""
    item = {
        "content": base64.b64encode(attachment.content).decode("ascii"),
        "filename": attachment.filename,
        "type": attachment.content_type,
        "disposition": "inline" if attachment.inline else "attachment",
    }
    if attachment.content_id is not None:
        item["content_id"] = attachment.content_id
    return item


__all__ = [
    "CAPABILITIES",
    "MAX_CATEGORIES",
    "RECIPIENT_FIELD",
    "RESET_HEADERS",
    "SANDBOX_MODE",
    "SEND_PATH",
    "STATUS_CLASSES",
    "SendGridAdapter",
    "build_payload",
]
