"""Mailgun adapter: ``POST /v3/{domain}/messages`` of the Mailgun Messages API."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

import httpx

from micromailer.config import SANDBOX_MAILGUN_DOMAIN
from micromailer.domain.message import Address, Message
from micromailer.providers.base import (
    ProviderAdapter,
    SendResult,
    StatusClasses,
    provider_error,
    retry_after_seconds,
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
from micromailer.providers.http import AsyncHttpSender, HttpSender

#: Path of the send endpoint below the base URL (``https://api.mailgun.net`` or the EU one).
SEND_PATH = "/v3/{domain}/messages"

#: Every error status Mailgun documents for the send call (its OpenAPI file: 400, 401, 429,
#: 500; its "responses" page: 403, 404, 413 and the other 5xx) → the error it means.
#: docs/providers/mailgun.md explains each row.
STATUS_CLASSES: StatusClasses = {
    400: RequestRejectedError,  # a parameter is missing or wrong; see MESSAGE_CLASSES
    401: AuthError,  # wrong key: a plain-text "Forbidden"
    403: AuthError,  # the key may not use this domain
    # The domain is not (yet) known: Mailgun says it may be temporary while a new domain
    # propagates; every email would meet it, so the next provider is tried and this one
    # is tried again later.
    404: AccountError,
    413: RequestRejectedError,  # the message is larger than 25 MB
    429: RateLimitedError,  # "... limit exceeded, try again after N seconds"
    500: ServerError,
    502: ServerError,
    503: ServerError,
    504: ServerError,
}

#: A ``400``'s ``message`` → the error it means, when it says more than the status: a
#: recipient address Mailgun refuses, or a sandbox domain sending to an unauthorised
#: recipient (an account rule). The first match wins.
MESSAGE_CLASSES: tuple[tuple[re.Pattern[str], type[ProviderError]], ...] = (
    (re.compile(r"^'?(?:to|cc|bcc)'? parameter is not a valid address", re.I),
     RecipientRejectedError),
    (re.compile(r"^Sandbox subdomains are for test purposes only", re.I), AccountError),
)

#: The wait a ``429``'s message names: "... try again after 120 seconds".
WAIT_IN_MESSAGE = re.compile(r"try again after (\d+(?:\.\d+)?) ?s(?:ec(?:ond)?s?)?\b", re.I)

#: Tags Mailgun keeps per message; later ones are left out (its client libraries' limit).
MAX_TAGS = 10


class MailgunAdapter(ProviderAdapter):
    """Mailgun: HTTP Basic ``api:<key>``, a multipart/form-data body, ``200`` ``{id, message}``.

    The sending domain is part of the path (``options["domain"]``, from ``MAILGUN_DOMAIN``);
    the region is the base URL's. Error answers are ``{"message": ...}`` (a plain-text
    ``Forbidden`` for a wrong key), classified by :data:`MESSAGE_CLASSES` then
    :data:`STATUS_CLASSES`; a ``429`` waits as long as its message says.
    """

    kind = "mailgun"
    status_classes = STATUS_CLASSES
    # Mailgun's limits (docs/providers/mailgun.md): 1,000 recipients per message (its batch
    # sending limit), 25 MB per message (user manual, "Send via HTTP"); no attachment type is
    # refused.
    capabilities = Capabilities(max_recipients=1000, max_bytes=25 * 1000 * 1000)
    # Mailgun documents no rate-limit header: the wait is in the 429's message.
    reset_headers = ()
    has_test_mode = True

    def __init__(
        self, *, api_key: str, base_url: str, client: HttpSender | AsyncHttpSender,
        name: str | None = None, options: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key, base_url=base_url, client=client, name=name, options=options
        )
        # Settings never build a real Mailgun adapter without MAILGUN_DOMAIN; without one, as
        # Settings.provider_options does, the sandbox's domain (a .test name no real
        # Mailgun knows).
        self.domain = self.options.get("domain") or SANDBOX_MAILGUN_DOMAIN

    def build_request(self, message: Message, *, test_mode: bool = False) -> httpx.Request:
        """The send request; in ``test_mode`` with ``o:testmode=yes`` (accepted, sent to
        nobody)."""
        parts = form_parts(message)
        if test_mode:
            parts.append(TEST_MODE_PART)
        return self._client.build_request(
            "POST",
            f"{self.base_url}{SEND_PATH.format(domain=self.domain)}",
            files=parts,
            headers={"Authorization": basic_auth(self._api_key)},
        )

    def build_probe_request(self, message: Message) -> httpx.Request:
        return self.build_request(message, test_mode=True)

    def parse_success(self, response: httpx.Response) -> SendResult:
        body = _json_object(response)
        message_id = body.get("id") if body else None
        if not isinstance(message_id, str) or not message_id:
            raise ServerError(
                self.name, "unreadable answer: expected {id, message}",
                status_code=response.status_code, body=response.text,
            )
        return SendResult(self.name, message_id, raw=body)

    def raise_for_error(self, response: httpx.Response) -> None:
        reason = self.error_reason(response)
        error_class = status_class(STATUS_CLASSES, response.status_code)
        if response.status_code in (400, 403):
            error_class = next(
                (cls for pattern, cls in MESSAGE_CLASSES if pattern.search(reason)), error_class
            )
        error = provider_error(error_class, self.name, reason, response, self.reset_headers)
        if isinstance(error, RateLimitedError):
            waited = wait_in_message(reason)
            error.retry_after = waited if waited is not None else retry_after_seconds(response)
        raise error

    def error_reason(self, response: httpx.Response) -> str:
        """The ``message`` of Mailgun's JSON error, else its plain text, else the phrase."""
        body = _json_object(response)
        if body and isinstance(body.get("message"), str) and body["message"]:
            return str(body["message"])
        text = response.text.strip()
        if text and len(text) <= 200 and not text.startswith(("{", "<")):
            return text
        return super().error_reason(response)


def basic_auth(api_key: str) -> str:
    """``Basic`` credentials of user ``api`` with the key as password, as Mailgun wants."""
    return "Basic " + base64.b64encode(f"api:{api_key}".encode()).decode("ascii")


def wait_in_message(message: str) -> float | None:
    """The seconds a ``429``'s message asks to wait, ``None`` when it names none."""
    found = WAIT_IN_MESSAGE.search(message)
    return float(found.group(1)) if found else None


#: One part of the form: a name and ``(filename, bytes, content type)``; a text field has
#: neither filename nor content type.
FormPart = tuple[str, tuple[str | None, bytes, str | None]]

#: The form field of Mailgun's test mode: the message is accepted and never sent.
TEST_MODE_PART: FormPart = ("o:testmode", (None, b"yes", None))


def form_fields(message: Message) -> list[tuple[str, str]]:
    """The text fields of the form, in order; a repeated field is a repeated pair."""
    fields = [("from", message.sender.formatted())]
    fields += [("to", value) for value in _addresses(message.to)]
    fields += [("cc", value) for value in _addresses(message.cc)]
    fields += [("bcc", value) for value in _addresses(message.bcc)]
    fields.append(("subject", message.subject))
    fields += [(name, value) for name, value in (("text", message.text), ("html", message.html))
               if value]
    if message.reply_to:
        fields.append(("h:Reply-To", ", ".join(_addresses(message.reply_to))))
    fields += [(f"h:{name}", value) for name, value in message.headers]
    fields += [("o:tag", tag) for tag in message.tags[:MAX_TAGS]]
    fields += [(f"v:{key}", value) for key, value in message.metadata if key != "email_id"]
    fields.append(("v:email_id", message.email_id))
    return fields


def form_parts(message: Message) -> list[FormPart]:
    """The whole multipart body: the text fields, then ``attachment`` parts for files and
    ``inline`` parts for images, whose filename is the content id the HTML names as ``cid:``
    (Mailgun's rule). Every field is a part, so the body is multipart even without files."""
    parts: list[FormPart] = [
        (name, (None, value.encode("utf-8"), None)) for name, value in form_fields(message)
    ]
    parts += [
        (
            "inline" if item.content_id else "attachment",
            (item.content_id or item.filename, item.content, item.content_type),
        )
        for item in message.attachments
    ]
    return parts


def _addresses(addresses: tuple[Address, ...]) -> list[str]:
    return [address.formatted() for address in addresses]


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


__all__ = [
    "MAX_TAGS",
    "MESSAGE_CLASSES",
    "SEND_PATH",
    "STATUS_CLASSES",
    "TEST_MODE_PART",
    "WAIT_IN_MESSAGE",
    "FormPart",
    "MailgunAdapter",
    "basic_auth",
    "form_fields",
    "form_parts",
    "wait_in_message",
]
