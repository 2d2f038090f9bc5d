"""Postmark adapter: ``POST /email`` of the Postmark Email API."""

from __future__ import annotations

import base64
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

#: Path of the single-message endpoint below the base URL (``https://api.postmarkapp.com``).
SEND_PATH = "/email"

#: Postmark's API ``ErrorCode``s that a send can meet (its "API error codes" table) → the
#: error each means. It decides over the HTTP status: a ``422`` says no more than "see
#: ErrorCode". docs/providers/postmark.md explains each row.
ERROR_CODE_CLASSES: dict[int, type[ProviderError]] = {
    10: AuthError,  # bad or missing server token
    100: ServerError,  # maintenance
    300: RequestRejectedError,  # invalid email request: a field or an address is wrong
    400: AccountError,  # the From address has no sender signature
    401: AccountError,  # the sender signature is not confirmed
    402: RequestRejectedError,  # invalid JSON
    403: RequestRejectedError,  # incompatible JSON
    405: AccountError,  # not allowed to send (e.g. out of credits)
    406: RecipientRejectedError,  # inactive recipient: hard bounce, complaint, suppression
    409: RequestRejectedError,  # JSON required
    410: RequestRejectedError,  # too many batch messages
    411: RequestRejectedError,  # forbidden attachment type
    412: AccountError,  # the account is pending approval
    413: AccountError,  # the account may not send
    429: RateLimitedError,  # rate limit exceeded
}

#: Every HTTP status Postmark documents (its Swagger file: 422, 500; its API overview: 401,
#: 404, 413, 429, 503) → the error it means when the body names no known ``ErrorCode``.
STATUS_CLASSES: StatusClasses = {
    401: AuthError,  # missing or wrong server token
    404: RequestRejectedError,  # wrong path
    413: RequestRejectedError,  # the request is larger than 10 MB
    422: RequestRejectedError,  # "see ErrorCode"
    429: RateLimitedError,
    500: ServerError,
    503: ServerError,  # maintenance
}

#: Postmark's test server token: the request is checked and answered, nothing is sent.
TEST_TOKEN = "POSTMARK_API_TEST"

#: File extensions Postmark refuses as attachments (its support article on attachment types).
FORBIDDEN_EXTENSIONS = frozenset({
    "vbs", "exe", "bin", "bat", "chm", "com", "cpl", "crt", "hlp", "hta", "inf", "ins",
    "isp", "jse", "lnk", "mdb", "pcd", "pif", "reg", "scr", "sct", "shs", "vbe", "vba",
    "wsf", "wsh", "wsl", "msc", "msi", "msp", "mst",
})


class PostmarkAdapter(ProviderAdapter):
    """Postmark: ``X-Postmark-Server-Token`` header, JSON body, ``200`` with ``ErrorCode`` 0.

    Any answer whose body carries a non-zero ``ErrorCode`` is classified by
    :data:`ERROR_CODE_CLASSES`, else by :data:`STATUS_CLASSES`. Postmark takes one ``Tag``
    per message: the first of the message's tags is sent, the others are left out.
    """

    kind = "postmark"
    status_classes = STATUS_CLASSES
    # Postmark's limits (docs/providers/postmark.md): 50 recipients per message, To, Cc and
    # Bcc together; 10 MB per message, attachments base64-encoded; the extensions above.
    capabilities = Capabilities(
        max_recipients=50, max_bytes=10 * 1000 * 1000, blocked_extensions=FORBIDDEN_EXTENSIONS
    )
    # Postmark documents no rate-limit header.
    reset_headers = ()
    has_test_mode = True

    def build_request(self, message: Message, *, test_mode: bool = False) -> httpx.Request:
        """The ``/email`` request; in ``test_mode`` with Postmark's test token as the server
        token (checked, answered, sent to nobody)."""
        token = TEST_TOKEN if test_mode else self._api_key
        return self._client.build_request(
            "POST",
            f"{self.base_url}{SEND_PATH}",
            json=build_payload(message),
            headers={"X-Postmark-Server-Token": token, "Accept": "application/json"},
        )

    def build_probe_request(self, message: Message) -> httpx.Request:
        return self.build_request(message, test_mode=True)

    def parse_success(self, response: httpx.Response) -> SendResult:
        body = _json_object(response)
        code = body.get("ErrorCode") if body else None
        if body is None or not isinstance(code, int):
            raise ServerError(
                self.name, "unreadable answer: expected {MessageID, ErrorCode}",
                status_code=response.status_code, body=response.text,
            )
        if code != 0:
            self.raise_for_error(response)
        message_id = body.get("MessageID")
        return SendResult(self.name, str(message_id) if message_id else None, raw=body)

    def raise_for_error(self, response: httpx.Response) -> None:
        body = _json_object(response)
        code = body.get("ErrorCode") if body else None
        error_class = ERROR_CODE_CLASSES.get(code) if isinstance(code, int) else None
        if error_class is None:
            error_class = status_class(STATUS_CLASSES, response.status_code)
        raise provider_error(
            error_class, self.name, self.error_reason(response), response, self.reset_headers
        )

    def error_reason(self, response: httpx.Response) -> str:
        """``"<ErrorCode>: <Message>"`` from Postmark's body, else the status phrase."""
        body = _json_object(response)
        if body and isinstance(body.get("Message"), str) and body["Message"]:
            code = body.get("ErrorCode")
            return f"{code}: {body['Message']}" if isinstance(code, int) else body["Message"]
        return super().error_reason(response)


def build_payload(message: Message) -> dict[str, Any]:
    """The ``/email`` JSON body: addresses as comma-joined ``"Name <addr>"`` strings,
    ``email_id`` in ``Metadata`` beside the message's own, one ``Tag``."""
    body: dict[str, Any] = {"From": message.sender.formatted(), "To": _joined(message.to)}
    if message.cc:
        body["Cc"] = _joined(message.cc)
    if message.bcc:
        body["Bcc"] = _joined(message.bcc)
    if message.reply_to:
        body["ReplyTo"] = _joined(message.reply_to)
    body["Subject"] = message.subject
    if message.html:
        body["HtmlBody"] = message.html
    if message.text:
        body["TextBody"] = message.text
    if message.attachments:
        body["Attachments"] = [
            {
                "Name": item.filename,
                "Content": base64.b64encode(item.content).decode("ascii"),
                "ContentType": item.content_type,
                **({"ContentID": f"cid:{item.content_id}"} if item.content_id else {}),
            }
            for item in message.attachments
        ]
    if message.headers:
        body["Headers"] = [{"Name": name, "Value": value} for name, value in message.headers]
    if message.tags:
        body["Tag"] = message.tags[0]
    body["Metadata"] = {**dict(message.metadata), "email_id": message.email_id}
    return body


def _joined(addresses: tuple[Address, ...]) -> str:
    return ", ".join(address.formatted() for address in addresses)


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


__all__ = [
    "ERROR_CODE_CLASSES",
    "FORBIDDEN_EXTENSIONS",
    "SEND_PATH",
    "STATUS_CLASSES",
    "TEST_TOKEN",
    "PostmarkAdapter",
    "build_payload",
]
