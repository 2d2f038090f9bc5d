"""SparkPost adapter: ``POST /api/v1/transmissions`` with inline content."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from micromailer.domain.message import Address, Attachment, Message
from micromailer.providers.base import (
    ProviderAdapter,
    SendResult,
    StatusClasses,
    provider_error,
    status_class,
)
from micromailer.providers.capabilities import Capabilities
from micromailer.providers.errors import (
    AccountError,
    AuthError,
    ProviderError,
    RateLimitedError,
    RecipientRejectedError,
    RequestRejectedError,
    ServerError,
)

#: Path of the transmissions endpoint below the base URL (``https://api.sparkpost.com``, EU:
#: ``https://api.eu.sparkpost.com``).
SEND_PATH = "/api/v1/transmissions"

#: Every error status of SparkPost's error table (index.apib "Error Table") → the error it
#: means. docs/providers/sparkpost.md explains each row.
STATUS_CLASSES: StatusClasses = {
    400: RequestRejectedError,  # bad request, e.g. invalid JSON or fields
    401: AuthError,  # missing or wrong key
    403: AuthError,  # the key lacks the permission
    404: RequestRejectedError,
    405: RequestRejectedError,
    409: RequestRejectedError,  # conflict: permanent for SparkPost, unlike HTTP's general 409
    413: RequestRejectedError,  # request too large
    415: RequestRejectedError,
    420: RateLimitedError,  # sending limit (hourly/daily/monthly): nothing was sent
    422: RequestRejectedError,
    429: RateLimitedError,  # too many requests: wait 1-5 s
    500: ServerError,
    503: ServerError,
}

#: An error ``code`` of SparkPost's body → the error it means, over the status's class.
ERROR_CODE_CLASSES: dict[str, type[ProviderError]] = {
    "1902": RecipientRejectedError,  # message generation rejected: recipient suppressed
    "7001": AccountError,  # invalid sending domain: the domain is not verified
}

#: Tags SparkPost keeps per recipient (recipient-lists.apib "Recipient Object").
MAX_TAGS = 10


class SparkPostAdapter(ProviderAdapter):
    """SparkPost: the raw key in ``Authorization``, JSON in, ``200 {"results": {"id"}}``.

    Cc and bcc are recipients of the transmission whose ``header_to`` shows the To addresses;
    cc addresses also go into a ``CC`` header, bcc ones into no header. Errors are classified
    by their ``code`` (:data:`ERROR_CODE_CLASSES`), else by status (:data:`STATUS_CLASSES`);
    a ``200`` that accepted no recipient is a refused recipient.
    """

    kind = "sparkpost"
    status_classes = STATUS_CLASSES
    # transmissions.apib: content (text, html, attachments, inline images) ≤ 20 MB. SparkPost
    # documents no recipient limit per transmission; 10,000 is the intake's own ceiling.
    capabilities = Capabilities(max_recipients=10_000, max_bytes=20_000_000)

    def build_request(self, message: Message) -> httpx.Request:
        return self._client.build_request(
            "POST",
            f"{self.base_url}{SEND_PATH}",
            json=build_payload(message),
            headers={"Authorization": self._api_key},
        )

    def parse_success(self, response: httpx.Response) -> SendResult:
        data = _json(response)
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, dict):
            raise ServerError(self.name, "unreadable answer: expected results",
                              status_code=response.status_code, body=response.text)
        if results.get("total_accepted_recipients") == 0 and results.get(
            "total_rejected_recipients"
        ):
            raise provider_error(RecipientRejectedError, self.name,
                                 "every recipient was rejected", response)
        message_id = results.get("id")
        return SendResult(self.name, str(message_id) if message_id else None, raw=data)

    def raise_for_error(self, response: httpx.Response) -> None:
        first = _first_error(response)
        error_class = ERROR_CODE_CLASSES.get(str(first.get("code"))) if first else None
        if error_class is None:
            error_class = status_class(STATUS_CLASSES, response.status_code)
        raise provider_error(
            error_class, self.name, self.error_reason(response), response, self.reset_headers
        )

    def error_reason(self, response: httpx.Response) -> str:
        """``"<message>: <description>"`` of the first error, else the status phrase."""
        first = _first_error(response)
        if first and first.get("message"):
            description = first.get("description")
            return f"{first['message']}: {description}" if description else str(first["message"])
        return super().error_reason(response)


def build_payload(message: Message) -> dict[str, Any]:
    """The transmission body: one recipient per to, cc and bcc address, inline content,
    ``email_id`` and the message's metadata as transmission metadata."""
    header_to = ", ".join(address.formatted() for address in message.to)
    tags = list(message.tags[:MAX_TAGS])
    recipients = [
        _recipient(address, header_to, tags) for address in message.recipients
    ]
    content: dict[str, Any] = {
        "from": message.sender.to_json(),
        "subject": message.subject,
    }
    if message.html:
        content["html"] = message.html
    if message.text:
        content["text"] = message.text
    if message.reply_to:
        content["reply_to"] = ", ".join(address.formatted() for address in message.reply_to)
    headers = dict(message.headers)
    if message.cc:
        headers["CC"] = ", ".join(address.formatted() for address in message.cc)
    if headers:
        content["headers"] = headers
    if message.files:
        content["attachments"] = [_file(item, item.filename) for item in message.files]
    if message.inline_images:
        content["inline_images"] = [
            _file(item, item.content_id or item.filename) for item in message.inline_images
        ]
    return {
        "recipients": recipients,
        "content": content,
        "metadata": {**dict(message.metadata), "email_id": message.email_id},
    }


def _recipient(address: Address, header_to: str, tags: list[str]) -> dict[str, Any]:
    recipient: dict[str, Any] = {"address": {**address.to_json(), "header_to": header_to}}
    if tags:
        recipient["tags"] = tags
    return recipient


def _file(attachment: Attachment, name: str) -> dict[str, str]:
    return {
        "name": name,
        "type": attachment.content_type,
        "data": base64.b64encode(attachment.content).decode("ascii"),
    }


def _first_error(response: httpx.Response) -> dict[str, Any] | None:
    data = _json(response)
    errors = data.get("errors") if isinstance(data, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return errors[0]
    return None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


__all__ = [
    "ERROR_CODE_CLASSES",
    "MAX_TAGS",
    "SEND_PATH",
    "STATUS_CLASSES",
    "SparkPostAdapter",
    "build_payload",
]
