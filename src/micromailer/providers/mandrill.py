"""Mandrill (Mailchimp Transactional) adapter: ``POST /api/1.0/messages/send.json``."""

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
    RecipientDeferredError,
    RecipientRejectedError,
    RequestRejectedError,
    ServerError,
)

#: Path of the send endpoint below the base URL (``https://mandrillapp.com``).
SEND_PATH = "/api/1.0/messages/send.json"

#: Mandrill's limits: the JSON of one API call must stay under 10 MB (Mailchimp
#: Transactional's "Can I send to more than one recipient at a time?"), which binds before the
#: 25 MB a message may reach (CONTRACTS.md section 2). The API sets no recipient limit; we keep
#: the 1,000 the same page gives SMTP.
CAPABILITIES = Capabilities(max_recipients=1000, max_bytes=10 * 1000 * 1000)

#: A ``200``'s per-recipient ``status`` → the error it means; ``None``: accepted.
#: ``rejected`` is classified by its ``reject_reason`` (:data:`REJECT_REASON_CLASSES`).
RECIPIENT_STATUS_CLASSES: dict[str, type[ProviderError] | None] = {
    "sent": None,
    "queued": None,  # held by Mandrill (attachments, quota, paused...), then sent by it
    "scheduled": None,
    "invalid": RecipientRejectedError,
}

#: ``reject_reason`` of a ``rejected`` recipient → the error it means. About the recipient:
#: the email fails. About the sender or the account: this provider fails, the next may send.
REJECT_REASON_CLASSES: dict[str, type[ProviderError]] = {
    "hard-bounce": RecipientRejectedError,
    "spam": RecipientRejectedError,
    "unsub": RecipientRejectedError,
    "invalid": RecipientRejectedError,
    "soft-bounce": RecipientDeferredError,
    "invalid-sender": AccountError,
    "unsigned": AccountError,  # the sending domain lacks verified SPF/DKIM
    "test-mode-limit": AccountError,
    "rule": AccountError,  # a rejection rule of the account
    "custom": AccountError,
}
#: A ``rejected`` recipient whose reason is missing or not in the spec's list.
UNKNOWN_REJECT_CLASS: type[ProviderError] = RecipientRejectedError

#: Error ``name`` → error class. Mandrill is classified by name, not by HTTP status: older API
#: versions are reported to answer every error with HTTP 500.
ERROR_CLASSES: dict[str, type[ProviderError]] = {
    "Invalid_Key": AuthError,
    "PaymentRequired": AccountError,  # the account is locked or unpaid: no email can pass
    "Unknown_Subaccount": RequestRejectedError,
    "ValidationError": RequestRejectedError,
    "GeneralError": ServerError,
    "ServiceUnavailable": ServerError,
    "RequestLimitExceeded": RateLimitedError,
}

#: Every error status the spec documents → the error it means, for answers without a known
#: ``name``.
STATUS_CLASSES: StatusClasses = {
    401: AuthError,
    402: AccountError,
    404: RequestRejectedError,
    422: RequestRejectedError,
    429: RateLimitedError,
    500: ServerError,
    503: ServerError,
}


class MandrillAdapter(ProviderAdapter):
    """Mandrill: API key inside the JSON body, ``200`` with one result per recipient.

    A ``200`` can still refuse recipients: each result's ``status`` and ``reject_reason`` are
    classified through :data:`RECIPIENT_STATUS_CLASSES` and :data:`REJECT_REASON_CLASSES`; the
    message is sent when any recipient is accepted.
    Error answers ``{"status": "error", "code", "name", "message"}`` through
    :data:`ERROR_CLASSES` by ``name``, else :data:`STATUS_CLASSES` by HTTP status.
    """

    kind = "mandrill"
    status_classes = STATUS_CLASSES
    capabilities = CAPABILITIES

    def build_request(self, message: Message) -> httpx.Request:
        return self._client.build_request(
            "POST", f"{self.base_url}{SEND_PATH}", json=build_payload(message, self._api_key)
        )

    def parse_success(self, response: httpx.Response) -> SendResult:
        """Sent when any recipient is accepted (its ``_id`` is the message id; the others'
        refusals stay in ``raw``); else the refusal that matters most, raised."""
        try:
            results = response.json()
        except ValueError:
            results = None
        listed = results if isinstance(results, list) else []
        entries = [entry for entry in listed if isinstance(entry, dict)]
        if not entries:
            raise ServerError(
                self.name,
                "unreadable answer: expected a list of recipient results",
                status_code=response.status_code,
                body=response.text,
            )
        refusals: list[tuple[type[ProviderError], str]] = []
        for entry in entries:
            error_class = self._recipient_class(entry, response)
            if error_class is None:
                message_id = entry.get("_id")
                return SendResult(self.name, str(message_id) if message_id else None, raw=results)
            reason = f"recipient {entry.get('status')}"
            if entry.get("reject_reason"):
                reason += f": {entry['reject_reason']}"
            refusals.append((error_class, reason))
        # Nobody accepted: a refusal that may pass elsewhere or later beats a final one.
        error_class, reason = next(
            (refusal for refusal in refusals if refusal[0].transient), refusals[0]
        )
        raise provider_error(error_class, self.name, reason, response)

    def _recipient_class(
        self, entry: dict[str, Any], response: httpx.Response
    ) -> type[ProviderError] | None:
        """The error one recipient's result means by the tables; ``None``: accepted."""
        status = entry.get("status")
        if status == "rejected":
            return REJECT_REASON_CLASSES.get(str(entry.get("reject_reason")), UNKNOWN_REJECT_CLASS)
        if isinstance(status, str) and status in RECIPIENT_STATUS_CLASSES:
            return RECIPIENT_STATUS_CLASSES[status]
        raise ServerError(
            self.name,
            f"unexpected recipient status {status!r}",
            status_code=response.status_code,
            body=response.text,
        )

    def raise_for_error(self, response: httpx.Response) -> None:
        error = _error_body(response)
        error_class = ERROR_CLASSES.get(str(error.get("name"))) if error else None
        if error_class is None:
            error_class = status_class(STATUS_CLASSES, response.status_code)
        raise provider_error(error_class, self.name, self.error_reason(response), response)

    def error_reason(self, response: httpx.Response) -> str:
        """``"<name>: <message>"`` from the error body, else the status phrase."""
        error = _error_body(response)
        if error and error.get("message"):
            name = error.get("name")
            return f"{name}: {error['message']}" if name else str(error["message"])
        return super().error_reason(response)


def build_payload(message: Message, api_key: str) -> dict[str, Any]:
    """The ``messages/send`` JSON body of ``message``.

    Every recipient is one entry of ``to`` with its ``type``; ``preserve_recipients`` shows the
    to and cc recipients to each other (Mandrill otherwise rewrites the headers per recipient)
    while bcc stays hidden. Reply-To has no field of its own: it is a header.
    """
    mail: dict[str, Any] = {}
    if message.html:
        mail["html"] = message.html
    if message.text:
        mail["text"] = message.text
    mail["subject"] = message.subject
    mail["from_email"] = message.sender.email
    if message.sender.name:
        mail["from_name"] = message.sender.name
    mail["to"] = [
        _recipient(address, kind)
        for kind, addresses in (("to", message.to), ("cc", message.cc), ("bcc", message.bcc))
        for address in addresses
    ]
    mail["preserve_recipients"] = True
    headers = dict(message.headers)
    if message.reply_to:
        headers["Reply-To"] = ", ".join(address.formatted() for address in message.reply_to)
    if headers:
        mail["headers"] = headers
    files = [item for item in message.attachments if not _is_image(item)]
    images = [item for item in message.attachments if _is_image(item)]
    if files:
        mail["attachments"] = [_encoded(item, item.filename) for item in files]
    if images:
        mail["images"] = [_encoded(item, str(item.content_id)) for item in images]
    tags = [tag for tag in dict.fromkeys(message.tags) if not tag.startswith("_")]
    if tags:  # a leading underscore is reserved by Mandrill: such a tag would fail the send
        mail["tags"] = tags
    mail["metadata"] = {**dict(message.metadata), "email_id": message.email_id}
    return {"key": api_key, "message": mail}


def _recipient(address: Address, kind: str) -> dict[str, str]:
    return {**address.to_json(), "type": kind}


def _is_image(attachment: Attachment) -> bool:
    """An inline image Mandrill can embed: ``images[]`` takes only ``image/*`` types; any
    other inline part travels as a plain attachment."""
    return attachment.inline and attachment.content_type.lower().startswith("image/")


def _encoded(attachment: Attachment, name: str) -> dict[str, str]:
    """``{type, name, content}``; ``name`` is the filename, or an image's content id."""
    content = base64.b64encode(attachment.content).decode("ascii")
    return {"type": attachment.content_type, "name": name, "content": content}


def _error_body(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("status") == "error":
        return data
    return None


__all__ = [
    "CAPABILITIES",
    "ERROR_CLASSES",
    "RECIPIENT_STATUS_CLASSES",
    "REJECT_REASON_CLASSES",
    "SEND_PATH",
    "STATUS_CLASSES",
    "UNKNOWN_REJECT_CLASS",
    "MandrillAdapter",
    "build_payload",
]
