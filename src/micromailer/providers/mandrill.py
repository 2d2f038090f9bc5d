"""Mandrill (Mailchimp Transactional) adapter: ``POST /api/1.0/messages/send.json``."""

from __future__ import annotations

from typing import Any

import httpx

from micromailer.domain.message import Message
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

    A ``200`` can still refuse the recipient: its ``status`` and ``reject_reason`` are
    classified through :data:`RECIPIENT_STATUS_CLASSES` and :data:`REJECT_REASON_CLASSES`.
    Error answers ``{"status": "error", "code", "name", "message"}`` through
    :data:`ERROR_CLASSES` by ``name``, else :data:`STATUS_CLASSES` by HTTP status.
    """

    kind = "mandrill"
    #: Mandrill's documented limits: a message up to 25 MB with its attachments; recipients
    #: are not bounded by the API (more than 10 are sent asynchronously), 1,000 kept here.
    capabilities = Capabilities(max_recipients=1000, max_bytes=25 * 1000 * 1000)
    status_classes = STATUS_CLASSES

    def build_request(self, message: Message) -> httpx.Request:
        return self._client.build_request(
            "POST", f"{self.base_url}{SEND_PATH}", json=build_payload(message, self._api_key)
        )

    def parse_success(self, response: httpx.Response) -> SendResult:
        try:
            results = response.json()
        except ValueError:
            results = None
        # We send one recipient, so ours is the first well-formed entry.
        entries = results if isinstance(results, list) else []
        result = next((entry for entry in entries if isinstance(entry, dict)), None)
        if result is None:
            raise ServerError(
                self.name,
                "unreadable answer: expected a list of recipient results",
                status_code=response.status_code,
                body=response.text,
            )
        status = result.get("status")
        error_class: type[ProviderError] | None
        if status == "rejected":
            reject_reason = str(result.get("reject_reason"))
            error_class = REJECT_REASON_CLASSES.get(reject_reason, UNKNOWN_REJECT_CLASS)
        elif isinstance(status, str) and status in RECIPIENT_STATUS_CLASSES:
            error_class = RECIPIENT_STATUS_CLASSES[status]
        else:
            raise ServerError(
                self.name,
                f"unexpected recipient status {status!r}",
                status_code=response.status_code,
                body=response.text,
            )
        if error_class is None:
            message_id = result.get("_id")
            return SendResult(self.name, str(message_id) if message_id else None, raw=results)
        reason = f"recipient {status}"
        if result.get("reject_reason"):
            reason += f": {result['reject_reason']}"
        raise provider_error(error_class, self.name, reason, response)

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
    """The ``messages/send`` JSON body for one message to one recipient."""
    recipient: dict[str, str] = {**message.to[0].to_json(), "type": "to"}
    return {
        "key": api_key,
        "message": {
            "html": message.html,
            "text": message.text,
            "subject": message.subject,
            "from_email": message.sender.email,
            "from_name": message.sender.name or "",
            "to": [recipient],
            "metadata": {"email_id": message.email_id},
        },
    }


def _error_body(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("status") == "error":
        return data
    return None


__all__ = [
    "ERROR_CLASSES",
    "RECIPIENT_STATUS_CLASSES",
    "REJECT_REASON_CLASSES",
    "SEND_PATH",
    "STATUS_CLASSES",
    "UNKNOWN_REJECT_CLASS",
    "MandrillAdapter",
    "build_payload",
]
