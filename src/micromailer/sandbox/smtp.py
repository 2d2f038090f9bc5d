"""Fake SMTP server: an aiosmtpd handler that captures, checks the login, injects faults.

The sandbox serves HTTP on one port; its SMTP fake listens on a port of its own
(``sandbox/smtp_server.py``) and says where at ``GET /_sandbox/smtp/server``. Replies:

- a fault (``failRate``) is rolled once per transaction, at ``MAIL FROM``, and answered with
  the reply :func:`fault_reply` maps its ``status`` to, at that reply's step;
- ``perm-fail@`` is refused at ``RCPT TO`` (550), ``temp-fail@`` makes ``DATA`` answer 451
  for the whole transaction, ``slow@`` delays the answer to ``DATA``;
- each accepted recipient becomes one captured message.
"""

from __future__ import annotations

import email
import email.policy
import weakref
from dataclasses import dataclass
from email.headerregistry import AddressHeader
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from micromailer.sandbox.capture import CapturedAttachment, CapturedMessage, ProviderState
from micromailer.sandbox.simulator import simulate

SERVER_PATH = "/_sandbox/smtp/server"

#: The header the SMTP adapter carries the email id in (``providers/smtp_mime.py``).
EMAIL_ID_HEADER = "X-Micromailer-Email-Id"


@dataclass(frozen=True, slots=True)
class FaultReply:
    """An injected refusal: the reply line and the step that answers it."""

    step: str  # "mail", "rcpt" or "data"
    reply: str


#: SMTP replies a fault ``status`` is answered with. A status that is itself an SMTP reply
#: code is answered as that code at the step where servers give it; the HTTP statuses the
#: other fakes use keep their meaning: unavailable → 421, rate limit → 451, auth → 535/530,
#: too large → 552, other 4xx → 554. Any other 5xx: 421; any other 4xx: 554 at DATA.
FAULT_REPLIES: dict[int, FaultReply] = {
    400: FaultReply("data", "554 5.6.0 Message rejected: malformed"),
    401: FaultReply("mail", "535 5.7.8 Authentication credentials invalid"),
    403: FaultReply("mail", "530 5.7.0 Authentication required"),
    413: FaultReply("data", "552 5.3.4 Message size exceeds fixed maximum message size"),
    421: FaultReply("mail", "421 4.3.2 Service not available, closing transmission channel"),
    429: FaultReply("mail", "451 4.7.1 Too many messages, slow down"),
    450: FaultReply("rcpt", "450 4.2.1 Mailbox temporarily unavailable"),
    451: FaultReply("rcpt", "451 4.3.0 Local error in processing"),
    452: FaultReply("rcpt", "452 4.5.3 Too many recipients"),
    500: FaultReply("mail", "421 4.3.0 Internal server error, closing connection"),
    502: FaultReply("mail", "421 4.3.0 Bad gateway, closing connection"),
    503: FaultReply("mail", "421 4.3.2 Service not available, closing transmission channel"),
    504: FaultReply("mail", "421 4.4.2 Timeout, closing connection"),
    530: FaultReply("mail", "530 5.7.0 Authentication required"),
    534: FaultReply("mail", "534 5.7.9 Authentication mechanism is too weak"),
    535: FaultReply("mail", "535 5.7.8 Authentication credentials invalid"),
    538: FaultReply("mail", "538 5.7.11 Encryption required for requested authentication"),
    550: FaultReply("rcpt", "550 5.1.1 Recipient address rejected: User unknown"),
    551: FaultReply("rcpt", "551 5.1.6 User not local"),
    552: FaultReply("data", "552 5.3.4 Message size exceeds fixed maximum message size"),
    553: FaultReply("rcpt", "553 5.1.3 Mailbox name not allowed"),
    554: FaultReply("data", "554 5.7.1 Message rejected as spam"),
}


def fault_reply(status: int) -> FaultReply:
    """The reply an injected fault of ``status`` is answered with (:data:`FAULT_REPLIES`)."""
    listed = FAULT_REPLIES.get(status)
    if listed is not None:
        return listed
    if status >= 500:
        return FAULT_REPLIES[503]
    return FAULT_REPLIES[400]


@dataclass(frozen=True, slots=True)
class SmtpEndpoint:
    """Where the SMTP fake listens, as ``GET /_sandbox/smtp/server`` says it."""

    host: str
    port: int
    starttls: bool
    #: The fake's self-signed certificate (PEM), the one a client should trust.
    certificate: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "starttls": self.starttls,
                "certificate": self.certificate}


class SmtpFakeHandler:
    """aiosmtpd's handler hooks, bound to the fake's :class:`ProviderState`."""

    def __init__(self, state: ProviderState) -> None:
        self.state = state
        self._faults: weakref.WeakKeyDictionary[Envelope, FaultReply] = (
            weakref.WeakKeyDictionary()
        )

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """PLAIN and LOGIN: any user name, the sandbox's key as the password."""
        password = data.password.decode("utf-8", "replace") if isinstance(
            data, LoginPassword) else None
        if self.state.key_matches(password):
            return AuthResult(success=True)
        self.state.capture.count_rejected()
        return AuthResult(success=False, handled=False)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        mail_options: list[str],
    ) -> str:
        await self.state.faults.delay()
        fault = self.state.faults.roll()
        if fault is not None:
            reply = fault_reply(fault.status)
            if reply.step == "mail":
                self.state.capture.count_rejected()
                return reply.reply
            self._faults[envelope] = reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        rcpt_options: list[str],
    ) -> str:
        fault = self._faults.get(envelope)
        if fault is not None and fault.step == "rcpt":
            self.state.capture.count_rejected()
            return fault.reply
        if "@" not in address:
            self.state.capture.count_rejected()
            return "553 5.1.3 Bad recipient address syntax"
        if (await simulate([address], slow_seconds=0.0)).refuses(address):
            self.state.capture.count_rejected()
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        fault = self._faults.pop(envelope, None)
        if fault is not None and fault.step == "data":
            self.state.capture.count_rejected()
            return fault.reply
        simulation = await simulate(envelope.rcpt_tos)
        if simulation.unavailable:
            self.state.capture.count_rejected()
            return "451 4.3.0 Temporary failure, try again later"
        content = envelope.original_content or b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        if parsed["From"] is None or parsed["Date"] is None:
            self.state.capture.count_rejected()
            return "554 5.6.0 Message rejected: RFC 5322 requires a From and a Date header"
        queue_id = self.state.token_id()
        for captured in captured_messages(self.state, parsed, envelope.rcpt_tos):
            self.state.capture.record(captured)
        return f"250 2.0.0 Ok: queued as {queue_id}"


def captured_messages(
    state: ProviderState, parsed: EmailMessage, recipients: list[str]
) -> list[CapturedMessage]:
    """One :class:`CapturedMessage` per envelope recipient: ``to``/``cc`` when a header names
    it, else ``bcc`` (the envelope is the only place a bcc recipient appears)."""
    to_all, cc, reply_to = (_header_addresses(parsed, name) for name in ("To", "Cc", "Reply-To"))
    names = {address.lower(): name for name, address in to_all + cc}
    in_to = {address.lower() for _, address in to_all}
    in_cc = {address.lower() for _, address in cc}
    senders = _header_addresses(parsed, "From")
    sender_name, sender = senders[0] if senders else ("", None)
    text, html = (_body(parsed, kind) for kind in ("plain", "html"))
    attachments = _attachments(parsed)
    headers = {name: str(value) for name, value in parsed.items()}
    bcc = tuple(r for r in recipients if r.lower() not in in_to | in_cc)
    received_at = state.clock()
    email_id = parsed.get(EMAIL_ID_HEADER)
    return [
        CapturedMessage(
            message_id=str(parsed.get("Message-ID", "")),
            to=recipient,
            to_name=names.get(recipient.lower()) or None,
            from_email=sender,
            from_name=sender_name or None,
            subject=str(parsed.get("Subject", "")) or None,
            html=html,
            text=text,
            metadata={"email_id": str(email_id)} if email_id else {},
            received_at=received_at,
            addressed_as=_field(recipient.lower(), in_to, in_cc),
            to_all=tuple(_formatted(pair) for pair in to_all),
            cc=tuple(_formatted(pair) for pair in cc),
            bcc=bcc,
            reply_to=tuple(_formatted(pair) for pair in reply_to),
            attachments=attachments,
            headers=headers,
        )
        for recipient in recipients
    ]


def _field(address: str, in_to: set[str], in_cc: set[str]) -> str:
    if address in in_to:
        return "to"
    return "cc" if address in in_cc else "bcc"


def _header_addresses(parsed: EmailMessage, name: str) -> list[tuple[str, str]]:
    header = parsed.get(name)
    if isinstance(header, AddressHeader):
        return [(address.display_name, address.addr_spec) for address in header.addresses]
    return getaddresses([str(header)]) if header is not None else []


def _formatted(pair: tuple[str, str]) -> str:
    name, address = pair
    return f"{name} <{address}>" if name else address


def _body(parsed: EmailMessage, kind: str) -> str | None:
    part = parsed.get_body(preferencelist=(kind,))
    if part is None or part.get_content_type() != f"text/{kind}":
        return None
    content = part.get_content()
    return str(content)


def _attachments(parsed: EmailMessage) -> tuple[CapturedAttachment, ...]:
    """Every leaf part but the bodies, decoded byte for byte."""
    bodies = {id(part) for kind in ("plain", "html")
              if (part := parsed.get_body(preferencelist=(kind,))) is not None}
    found = []
    for part in parsed.walk():
        if part.is_multipart() or id(part) in bodies:
            continue
        payload = part.get_payload(decode=True)
        content_id = part.get("Content-ID")
        found.append(CapturedAttachment(
            filename=part.get_filename() or "",
            content_type=part.get_content_type(),
            content=payload if isinstance(payload, bytes) else b"",
            content_id=str(content_id).strip().strip("<>") if content_id else None,
        ))
    return tuple(found)


def make_router(state: ProviderState) -> APIRouter:
    """The fake's one HTTP route: where its SMTP server listens."""
    router = APIRouter(tags=["smtp"])

    @router.get(SERVER_PATH)
    async def read_smtp_server(request: Request) -> JSONResponse:
        endpoint = getattr(request.app.state, "smtp_server", None)
        if not isinstance(endpoint, SmtpEndpoint):
            return JSONResponse(
                {"error": "The SMTP fake is not running: it starts with `micromailer sandbox` "
                          "and SandboxThread, not with the bare app."},
                status_code=503,
            )
        return JSONResponse(endpoint.to_json())

    return router


__all__ = [
    "EMAIL_ID_HEADER",
    "FAULT_REPLIES",
    "SERVER_PATH",
    "FaultReply",
    "SmtpEndpoint",
    "SmtpFakeHandler",
    "captured_messages",
    "fault_reply",
    "make_router",
]
