"""Mandrill (Mailchimp Transactional) adapter: ``POST /api/1.0/messages/send.json``."""

from __future__ import annotations

from typing import Any

import httpx

from micromailer.domain.message import Message
from micromailer.providers.base import (
    ProviderAdapter,
    SendResult,
    raise_for_http_status,
    retry_after_seconds,
)
from micromailer.providers.errors import (
    AuthError,
    ProviderError,
    RateLimitedError,
    RecipientRejectedError,
    RequestRejectedError,
    ServerError,
)

#: Path of the send endpoint below the base URL (``https://mandrillapp.com``).
SEND_PATH = "/api/1.0/messages/send.json"

#: Per-recipient statuses of a ``200`` answer that mean the message was accepted.
ACCEPTED_STATUSES = frozenset({"sent", "queued", "scheduled"})
#: Per-recipient statuses that refuse the recipient for good.
REJECTED_STATUSES = frozenset({"rejected", "invalid"})

#: Error ``name`` → error class. Mandrill is classified by name, not by HTTP status: older API
#: versions are reported to answer every error with HTTP 500.
ERROR_CLASSES: dict[str, type[ProviderError]] = {
    "Invalid_Key": AuthError,
    "PaymentRequired": RequestRejectedError,
    "Unknown_Subaccount": RequestRejectedError,
    "ValidationError": RequestRejectedError,
    "GeneralError": ServerError,
    "ServiceUnavailable": ServerError,
    "RequestLimitExceeded": RateLimitedError,
}


class MandrillAdapter(ProviderAdapter):
    """Mandrill: API key inside the JSON body, ``200`` with one result per recipient.

    A ``200`` can still refuse the recipient (``rejected``/``invalid``): that is a
    :class:`~micromailer.providers.errors.RecipientRejectedError`. Error answers
    ``{"status": "error", "code", "name", "message"}`` are classified by ``name`` through
    :data:`ERROR_CLASSES`, falling back on the HTTP status for names not listed there.
    """

    kind = "mandrill"

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
        if status in ACCEPTED_STATUSES:
            message_id = result.get("_id")
            return SendResult(self.name, str(message_id) if message_id else None, raw=results)
        if status in REJECTED_STATUSES:
            reason = f"recipient {status}"
            if result.get("reject_reason"):
                reason += f": {result['reject_reason']}"
            raise RecipientRejectedError(
                self.name, reason, status_code=response.status_code, body=response.text
            )
        raise ServerError(
            self.name,
            f"unexpected recipient status {status!r}",
            status_code=response.status_code,
            body=response.text,
        )

    def raise_for_error(self, response: httpx.Response) -> None:
        error = _error_body(response)
        reason = self.error_reason(response)
        error_class = ERROR_CLASSES.get(str(error.get("name"))) if error else None
        if error_class is RateLimitedError:
            raise RateLimitedError(
                self.name,
                reason,
                status_code=response.status_code,
                body=response.text,
                retry_after=retry_after_seconds(response),
            )
        if error_class is not None:
            raise error_class(
                self.name, reason, status_code=response.status_code, body=response.text
            )
        raise_for_http_status(self.name, response, reason)

    def error_reason(self, response: httpx.Response) -> str:
        """``"<name>: <message>"`` from the error body, else the status phrase."""
        error = _error_body(response)
        if error and error.get("message"):
            name = error.get("name")
            return f"{name}: {error['message']}" if name else str(error["message"])
        return super().error_reason(response)


def build_payload(message: Message, api_key: str) -> dict[str, Any]:
    """The ``messages/send`` JSON body for one message to one recipient."""
    recipient: dict[str, str] = {"email": message.to_email, "type": "to"}
    if message.to_name:
        recipient["name"] = message.to_name
    return {
        "key": api_key,
        "message": {
            "html": message.html,
            "text": message.text,
            "subject": message.subject,
            "from_email": message.sender_email,
            "from_name": message.sender_name,
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
    "ACCEPTED_STATUSES",
    "ERROR_CLASSES",
    "REJECTED_STATUSES",
    "SEND_PATH",
    "MandrillAdapter",
    "build_payload",
]
