"""Amazon SES API v2 adapter: ``POST /v2/email/outbound-emails`` (``SendEmail``), SigV4-signed."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Mapping
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials
from botocore.exceptions import BotoCoreError
from botocore.session import get_session

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
from micromailer.providers.http import AsyncHttpSender, HttpSender

#: Path of ``SendEmail`` below the base URL (``https://email.{region}.amazonaws.com``).
SEND_PATH = "/v2/email/outbound-emails"
#: SigV4 signing name of SES v2 (service-2.json ``metadata.signingName``).
SIGNING_NAME = "ses"
#: Access key id of the static credentials a set ``api_key`` stands for (the sandbox's).
SANDBOX_ACCESS_KEY_ID = "sandbox"

#: The error type SES names (``x-amzn-ErrorType`` / ``__type``) → the error it means. Every
#: error ``SendEmail`` lists in service-2.json, then AWS's common errors (signing, throttling,
#: outages). docs/providers/ses.md explains each row.
ERROR_TYPE_CLASSES: dict[str, type[ProviderError]] = {
    "BadRequestException": RequestRejectedError,  # invalid input, e.g. a malformed address
    "MessageRejected": RequestRejectedError,  # content refused (virus, unverified recipient)
    "LimitExceededException": RequestRejectedError,  # this request exceeds a limit
    "NotFoundException": RequestRejectedError,  # a configuration set or template is missing
    "MailFromDomainNotVerifiedException": AccountError,
    "AccountSuspendedException": AccountError,
    "SendingPausedException": AccountError,
    "TooManyRequestsException": RateLimitedError,
    "ThrottlingException": RateLimitedError,  # sending rate or daily quota exceeded
    "UnrecognizedClientException": AuthError,  # unknown access key or token
    "InvalidSignatureException": AuthError,
    "IncompleteSignatureException": AuthError,
    "MissingAuthenticationTokenException": AuthError,
    "AccessDeniedException": AuthError,
    "ExpiredTokenException": AuthError,
    "InternalFailure": ServerError,
    "ServiceUnavailable": ServerError,
}

#: ``MessageRejected`` texts that refuse a recipient rather than the message.
RECIPIENT_REFUSALS: tuple[str, ...] = ("Address blacklisted",)

#: Every status SES's errors carry (service-2.json ``error.httpStatusCode``, AWS's common
#: errors for 403/500/503) → the error it means, for answers without a known type.
STATUS_CLASSES: StatusClasses = {
    400: RequestRejectedError,
    403: AuthError,
    404: RequestRejectedError,
    429: RateLimitedError,
    500: ServerError,
    503: ServerError,
}

#: Attachment extensions SES refuses (doc: ses/latest/dg/mime-types, "unsupported attachment
#: types").
BLOCKED_EXTENSIONS = frozenset({
    "ade", "adp", "app", "asp", "bas", "bat", "cer", "chm", "cmd", "com", "cpl", "crt",
    "csh", "der", "exe", "fxp", "gadget", "hlp", "hta", "inf", "ins", "isp", "its", "js",
    "jse", "ksh", "lib", "lnk", "mad", "maf", "mag", "mam", "maq", "mar", "mas", "mat",
    "mau", "mav", "maw", "mda", "mdb", "mde", "mdt", "mdw", "mdz", "msc", "msh", "msh1",
    "msh2", "mshxml", "msh1xml", "msh2xml", "msi", "msp", "mst", "ops", "pcd", "pif", "plg",
    "prf", "prg", "reg", "scf", "scr", "sct", "shb", "shs", "sys", "ps1", "ps1xml", "ps2",
    "ps2xml", "psc1", "psc2", "tmp", "url", "vb", "vbe", "vbs", "vps", "vsmacros", "vss",
    "vst", "vsw", "vxd", "ws", "wsc", "wsf", "wsh", "xnk",
})

#: A character SES refuses in a tag's name or value (``MessageTag``: ASCII letters, digits,
#: ``_`` and ``-``, at most 256 characters).
TAG_FORBIDDEN = re.compile(r"[^A-Za-z0-9_-]")
TAG_MAX_CHARS = 256
#: What ``Content.Simple.Headers`` takes; a message with more goes as ``Content.Raw``.
MAX_SIMPLE_HEADERS = 15
MAX_SIMPLE_HEADER_VALUE = 995


class SesAdapter(ProviderAdapter):
    """Amazon SES v2 ``SendEmail``: SigV4 over the exact JSON body, ``200 {"MessageId"}``.

    Credentials come from botocore's chain (environment, profile, container or instance
    role), found once per adapter and refreshed as botocore refreshes them; a set ``api_key``
    is instead the secret of the static access key ``sandbox`` (the sandbox's fake). Errors
    are classified by their type (:data:`ERROR_TYPE_CLASSES`), else by status.
    """

    kind = "ses"
    status_classes = STATUS_CLASSES
    # doc: ses/latest/dg/quotas: 50 recipients (To+Cc+Bcc) and 40 MB per v2 message after
    # base64; blocked extensions: ses/latest/dg/mime-types.
    capabilities = Capabilities(
        max_recipients=50, max_bytes=40_000_000, blocked_extensions=BLOCKED_EXTENSIONS
    )

    def __init__(
        self, *, api_key: str, base_url: str, client: HttpSender | AsyncHttpSender,
        name: str | None = None, options: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key, base_url=base_url, client=client, name=name, options=options
        )
        self._region = self.options.get("region", "us-east-1")
        self._chain: Credentials | None = None
        self._chain_lock = threading.Lock()

    def build_request(self, message: Message) -> httpx.Request:
        url = f"{self.base_url}{SEND_PATH}"
        body = json.dumps(build_payload(message), separators=(",", ":")).encode()
        signed = AWSRequest(
            method="POST", url=url, data=body, headers={"Content-Type": "application/json"}
        )
        SigV4Auth(self._credentials(), SIGNING_NAME, self._region).add_auth(signed)
        return self._client.build_request(
            "POST", url, content=body, headers=dict(signed.headers.items())
        )

    def parse_success(self, response: httpx.Response) -> SendResult:
        data = _json(response)
        message_id = data.get("MessageId") if isinstance(data, dict) else None
        return SendResult(self.name, str(message_id) if message_id else None, raw=data)

    def raise_for_error(self, response: httpx.Response) -> None:
        error_type = error_type_of(response)
        error_class = ERROR_TYPE_CLASSES.get(error_type or "") or status_class(
            STATUS_CLASSES, response.status_code
        )
        reason = self.error_reason(response)
        if error_type == "MessageRejected" and _message(response).startswith(RECIPIENT_REFUSALS):
            error_class, reason = RecipientRejectedError, f"recipient refused: {reason}"
        raise provider_error(error_class, self.name, reason, response, self.reset_headers)

    def error_reason(self, response: httpx.Response) -> str:
        """``"<type>: <message>"`` from the answer, else the status phrase."""
        error_type, text = error_type_of(response), _message(response)
        if error_type and text:
            return f"{error_type}: {text}"
        return error_type or text or super().error_reason(response)

    def _credentials(self) -> ReadOnlyCredentials:
        """A frozen snapshot of this adapter's credentials (refreshed by botocore if due)."""
        if self._api_key:
            return ReadOnlyCredentials(SANDBOX_ACCESS_KEY_ID, self._api_key, None)
        try:
            with self._chain_lock:
                if self._chain is None:
                    self._chain = get_session().get_credentials()
            if self._chain is None:
                raise AuthError(self.name, "botocore's credential chain found no AWS credentials")
            return self._chain.get_frozen_credentials()
        except BotoCoreError as exc:
            raise AuthError(
                self.name, f"AWS credentials unavailable ({type(exc).__name__})"
            ) from None


def build_payload(message: Message) -> dict[str, Any]:
    """The ``SendEmailRequest`` body: ``Content.Simple``, or ``Content.Raw`` (a MIME message
    without a Bcc header) when Simple cannot carry the message (:func:`needs_raw`). Tags and
    metadata become ``EmailTags`` (:func:`email_tags`)."""
    destination = {
        field: [address.formatted() for address in addresses]
        for field, addresses in (
            ("ToAddresses", message.to), ("CcAddresses", message.cc),
            ("BccAddresses", message.bcc),
        )
        if addresses
    }
    content: dict[str, Any]
    if needs_raw(message):
        raw = base64.b64encode(build_mime(message)).decode("ascii")
        content = {"Raw": {"Data": raw}}
    else:
        content = {"Simple": _simple(message)}
    payload: dict[str, Any] = {
        "FromEmailAddress": message.sender.formatted(),
        "Destination": destination,
        "Content": content,
        "EmailTags": email_tags(message),
    }
    if message.reply_to:
        payload["ReplyToAddresses"] = [address.formatted() for address in message.reply_to]
    return payload


def needs_raw(message: Message) -> bool:
    """Whether ``Content.Simple`` cannot carry ``message``: attachments, or headers beyond
    its 15 entries of 995 characters (``MessageHeaderList``, ``MessageHeaderValue``)."""
    return bool(message.attachments) or len(message.headers) > MAX_SIMPLE_HEADERS or any(
        len(value) > MAX_SIMPLE_HEADER_VALUE for _, value in message.headers
    )


def _simple(message: Message) -> dict[str, Any]:
    body = {
        part: {"Data": value, "Charset": "UTF-8"}
        for part, value in (("Text", message.text), ("Html", message.html))
        if value
    }
    simple: dict[str, Any] = {
        "Subject": {"Data": message.subject, "Charset": "UTF-8"}, "Body": body
    }
    if message.headers:
        simple["Headers"] = [{"Name": name, "Value": value} for name, value in message.headers]
    return simple


def build_mime(message: Message) -> bytes:
    """The message as MIME (CRLF lines): text and HTML alternatives, inline images related to
    the HTML, files attached. Bcc recipients travel only in ``Destination``."""
    mime = EmailMessage()
    mime["From"] = message.sender.formatted()
    for header, addresses in (("To", message.to), ("Cc", message.cc),
                              ("Reply-To", message.reply_to)):
        if addresses:
            mime[header] = _joined(addresses)
    mime["Subject"] = message.subject
    for name, value in message.headers:
        mime[name] = value
    if message.text:
        mime.set_content(message.text)
        if message.html:
            mime.add_alternative(message.html, subtype="html")
    else:
        mime.set_content(message.html, subtype="html")
    html_part = mime.get_body(("html",)) if message.html else None
    for image in message.inline_images:
        if html_part is not None:
            html_part.add_related(image.content, *_mime_type(image), cid=f"<{image.content_id}>",
                                  filename=image.filename)
        else:
            mime.add_attachment(image.content, *_mime_type(image), cid=f"<{image.content_id}>",
                                filename=image.filename, disposition="inline")
    for file in message.files:
        mime.add_attachment(file.content, *_mime_type(file), filename=file.filename)
    return mime.as_bytes(policy=SMTP)


def _joined(addresses: tuple[Address, ...]) -> str:
    return ", ".join(address.formatted() for address in addresses)


def _mime_type(attachment: Attachment) -> tuple[str, str]:
    maintype, slash, subtype = attachment.content_type.partition("/")
    if not (slash and maintype and subtype) or maintype == "multipart":
        return "application", "octet-stream"
    return maintype, subtype


def email_tags(message: Message) -> list[dict[str, str]]:
    """``EmailTags``: ``email_id`` first, then metadata (key → value), then each tag as a
    name with the value ``true``. Characters SES refuses become ``_`` and names are cut to 256
    characters; a later name equal to an earlier one is left out."""
    pairs = [("email_id", message.email_id), *message.metadata,
             *((tag, "true") for tag in message.tags)]
    tags: dict[str, str] = {}
    for name, value in pairs:
        clean = sanitised_tag(name)
        if clean and clean not in tags:
            tags[clean] = sanitised_tag(value) or "_"
    return [{"Name": name, "Value": value} for name, value in tags.items()]


def sanitised_tag(text: str) -> str:
    """``text`` as SES takes a tag's name or value: refused characters as ``_``, 256 at most."""
    return TAG_FORBIDDEN.sub("_", text)[:TAG_MAX_CHARS]


def error_type_of(response: httpx.Response) -> str | None:
    """SES's error type: the ``x-amzn-ErrorType`` header, else the body's ``__type`` or
    ``code``, without the namespace (``…#MessageRejected``) or the URL after a colon."""
    raw = response.headers.get("x-amzn-errortype")
    if not raw:
        data = _json(response)
        if isinstance(data, dict):
            raw = data.get("__type") or data.get("code") or data.get("Code")
    if not isinstance(raw, str) or not raw:
        return None
    return raw.split(":", 1)[0].rpartition("#")[2] or None


def _message(response: httpx.Response) -> str:
    data = _json(response)
    if isinstance(data, dict):
        text = data.get("message") or data.get("Message")
        if isinstance(text, str):
            return text
    return ""


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


__all__ = [
    "BLOCKED_EXTENSIONS",
    "ERROR_TYPE_CLASSES",
    "MAX_SIMPLE_HEADERS",
    "MAX_SIMPLE_HEADER_VALUE",
    "RECIPIENT_REFUSALS",
    "SANDBOX_ACCESS_KEY_ID",
    "SEND_PATH",
    "SIGNING_NAME",
    "STATUS_CLASSES",
    "SesAdapter",
    "build_mime",
    "build_payload",
    "email_tags",
    "error_type_of",
    "needs_raw",
    "sanitised_tag",
]
