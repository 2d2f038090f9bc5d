"""Brevo (formerly Sendinblue) adapter: ``POST /v3/smtp/email`` of the Brevo API v3."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import httpx

from micromailer.domain.message import Address, Message
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

#: Path of the send endpoint below the base URL (``https://api.brevo.com``).
SEND_PATH = "/v3/smtp/email"

#: Every error status Brevo documents (the spec's ``info.description`` table; 429 from its
#: limit-headers page) → the error it means, for answers without a known ``code``.
STATUS_CLASSES: StatusClasses = {
    400: RequestRejectedError,  # bad request
    401: AuthError,  # authentication needed: missing or wrong key
    402: AccountError,  # not enough credit, plan upgrade needed
    403: AuthError,  # permission denied: key scope, IP not authorised
    404: RequestRejectedError,  # object does not exist (wrong path)
    405: RequestRejectedError,  # method not allowed
    406: RequestRejectedError,  # not acceptable
    422: RequestRejectedError,  # unprocessable entity
    429: RateLimitedError,
    500: ServerError,
    502: ServerError,
    503: ServerError,
    504: ServerError,
}

#: Every ``code`` of the spec's ``errorModel`` → the error it means. A known code decides;
#: an answer without one falls back on :data:`STATUS_CLASSES`.
CODE_CLASSES: dict[str, type[ProviderError]] = {
    "invalid_parameter": RequestRejectedError,
    "missing_parameter": RequestRejectedError,
    "out_of_range": RequestRejectedError,
    "campaign_processing": RequestRejectedError,
    "campaign_sent": RequestRejectedError,
    "document_not_found": RequestRejectedError,
    "duplicate_parameter": RequestRejectedError,
    "duplicate_request": RequestRejectedError,
    "method_not_allowed": RequestRejectedError,
    "not_acceptable": RequestRejectedError,
    "bad_request": RequestRejectedError,
    "unprocessable_entity": RequestRejectedError,
    "unauthorized": AuthError,
    "permission_denied": AuthError,
    "reseller_permission_denied": AuthError,
    "not_enough_credits": AccountError,  # every email would meet it until credits are bought
    "account_under_validation": AccountError,
}

#: The ``message`` of Brevo's ``invalid_parameter`` refusal of a recipient's address.
RECIPIENT_MESSAGE = re.compile(r"email is not valid in (?:to|cc|bcc)\b", re.IGNORECASE)

#: Headers Brevo's ``headers`` field refuses: the standard ones (RFC 5322 and MIME), which
#: the body's own fields set. Any other header of the message is passed on.
STANDARD_HEADERS = frozenset({
    "bcc", "cc", "comments", "content-transfer-encoding", "content-type", "date", "from",
    "in-reply-to", "keywords", "message-id", "mime-version", "received", "references",
    "reply-to", "return-path", "sender", "subject", "to",
})

#: The header whose value Brevo echoes in its webhooks: our metadata, as a JSON object.
METADATA_HEADER = "X-Mailin-custom"

#: A name Brevo accepts in ``sender``, ``to``, ``cc``, ``bcc`` and ``replyTo`` (the spec).
MAX_NAME_LENGTH = 70


class BrevoAdapter(ProviderAdapter):
    """Brevo: ``api-key`` header, JSON body, ``201`` with ``{"messageId"}``.

    Errors ``{"code", "message"}`` are classified by :data:`CODE_CLASSES`, else by
    :data:`STATUS_CLASSES`; a ``400`` whose message says a recipient's address is not valid is
    a :class:`RecipientRejectedError` (Brevo refuses blocked addresses later, as events).
    """

    kind = "brevo"
    status_classes = STATUS_CLASSES
    # help.brevo.com/hc/en-us/articles/4402811730962: 20 MB per transactional email with its
    # attachments, 99 recipients (also the spec's per-version limit of ``messageVersions``).
    # The spec's ``attachment`` description lists the only extensions Brevo accepts, and its
    # API has no content-id for inline images.
    capabilities = Capabilities(
        max_recipients=99,
        max_bytes=20 * MIB,
        inline_images=False,
        allowed_extensions=frozenset({
            "xlsx", "xls", "ods", "docx", "docm", "doc", "csv", "pdf", "txt", "gif", "jpg",
            "jpeg", "png", "tif", "tiff", "rtf", "bmp", "cgm", "css", "shtml", "html", "htm",
            "zip", "xml", "ppt", "pptx", "tar", "ez", "ics", "mobi", "msg", "pub", "eps", "odt",
            "mp3", "m4a", "m4v", "wma", "ogg", "flac", "wav", "aif", "aifc", "aiff", "mp4",
            "mov", "avi", "mkv", "mpeg", "mpg", "wmv", "pkpass", "xlsm",
        }),
    )
    # developers.brevo.com/docs/limit-headers: seconds until the window resets.
    reset_headers = ("x-sib-ratelimit-reset",)

    def build_request(self, message: Message) -> httpx.Request:
        return self._client.build_request(
            "POST",
            f"{self.base_url}{SEND_PATH}",
            json=build_payload(message),
            headers={"api-key": self._api_key, "Accept": "application/json"},
        )

    def parse_success(self, response: httpx.Response) -> SendResult:
        body = _json_object(response)
        message_id = body.get("messageId") if body else None
        return SendResult(
            self.name, str(message_id) if message_id else None, raw=body
        )

    def raise_for_error(self, response: httpx.Response) -> None:
        error = _json_object(response) or {}
        code = str(error.get("code", "")).lower()
        message = str(error.get("message", ""))
        error_class = CODE_CLASSES.get(code) or status_class(STATUS_CLASSES, response.status_code)
        if code == "invalid_parameter" and RECIPIENT_MESSAGE.search(message):
            error_class = RecipientRejectedError
        raise provider_error(
            error_class, self.name, self.error_reason(response), response, self.reset_headers
        )

    def error_reason(self, response: httpx.Response) -> str:
        """``"<code>: <message>"`` from Brevo's error body, else the status phrase."""
        error = _json_object(response)
        if error and error.get("message"):
            code = error.get("code")
            return f"{code}: {error['message']}" if code else str(error["message"])
        return super().error_reason(response)


def build_payload(message: Message) -> dict[str, Any]:
    """The ``sendSmtpEmail`` JSON body for one message.

    Brevo takes one reply-to address: the first of the message's. Metadata and the email id
    travel as JSON in the ``X-Mailin-custom`` header, which Brevo echoes in its webhooks.
    """
    body: dict[str, Any] = {
        "sender": _address(message.sender),
        "to": [_address(item) for item in message.to],
        "subject": message.subject,
    }
    if message.cc:
        body["cc"] = [_address(item) for item in message.cc]
    if message.bcc:
        body["bcc"] = [_address(item) for item in message.bcc]
    if message.reply_to:
        body["replyTo"] = _address(message.reply_to[0])
    if message.html:
        body["htmlContent"] = message.html
    if message.text:
        body["textContent"] = message.text
    if message.attachments:
        body["attachment"] = [
            {"content": base64.b64encode(item.content).decode("ascii"), "name": item.filename}
            for item in message.attachments
        ]
    body["headers"] = {
        **{
            name: value for name, value in message.headers
            if name.lower() not in STANDARD_HEADERS and name.lower() != METADATA_HEADER.lower()
        },
        METADATA_HEADER: metadata_header(message),
    }
    if message.tags:
        body["tags"] = list(message.tags)
    return body


def metadata_header(message: Message) -> str:
    """The message's metadata and ``email_id`` as compact JSON, ASCII only (Brevo sends
    header values unencoded)."""
    values = {**dict(message.metadata), "email_id": message.email_id}
    return json.dumps(values, separators=(",", ":"), ensure_ascii=True)


def _address(address: Address) -> dict[str, str]:
    json_address = address.to_json()
    if "name" in json_address:
        json_address["name"] = json_address["name"][:MAX_NAME_LENGTH]
    return json_address


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


__all__ = [
    "CODE_CLASSES",
    "METADATA_HEADER",
    "RECIPIENT_MESSAGE",
    "SEND_PATH",
    "STANDARD_HEADERS",
    "STATUS_CLASSES",
    "BrevoAdapter",
    "build_payload",
    "metadata_header",
]
