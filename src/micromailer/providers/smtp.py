"""SMTP adapter: any SMTP server (``MICROMAILER_SMTP_URL``), through aiosmtplib.

It speaks SMTP, not HTTP: it overrides :meth:`SmtpAdapter.send_async` and
:meth:`SmtpAdapter.send` and leaves the HTTP hooks unused. In sandbox mode (an ``http://``
base URL: the sandbox's) it asks the sandbox once where its SMTP fake listens.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from enum import StrEnum
from functools import cache
from typing import Any, NoReturn, cast

import aiosmtplib
import httpx

from micromailer.domain.message import Message
from micromailer.providers.base import ProviderAdapter, SendResult
from micromailer.providers.capabilities import MIB, Capabilities
from micromailer.providers.errors import (
    AccountError,
    AuthError,
    NetworkError,
    ProviderError,
    RecipientDeferredError,
    RecipientRejectedError,
    RequestRejectedError,
    ServerError,
)
from micromailer.providers.http import AsyncHttpSender, HttpSender
from micromailer.providers.smtp_mime import POLICY, build_mime, message_id
from micromailer.providers.smtp_server import (
    Security,
    SmtpServer,
    Timeouts,
    client_timeouts,
    sandbox_server,
    server_from_url,
    without_login,
)

#: Where the sandbox says where its SMTP fake listens (``sandbox/smtp.py``).
SANDBOX_SERVER_PATH = "/_sandbox/smtp/server"


class Stage(StrEnum):
    """The step of the conversation a reply answers."""

    CONNECT = "connect"  # the greeting
    ANY = "any"  # EHLO, STARTTLS, AUTH, and the default row of a code
    MAIL = "mail"  # MAIL FROM: the sender
    RCPT = "rcpt"  # RCPT TO: one recipient
    DATA = "data"  # DATA and the message after it


#: SMTP reply (the step it answers, its code) → the error it means; a code is looked up at
#: its step, then under ``ANY``; a code of neither: 4xx :class:`ServerError`, 5xx
#: :class:`RequestRejectedError`. RFC 5321 §4.2.3 and RFC 4954 §6; docs/providers/smtp.md
#: explains each row.
REPLY_CLASSES: Mapping[tuple[Stage, int], type[ProviderError]] = {
    (Stage.CONNECT, 554): AccountError,  # "no SMTP service here" for us: every email meets it
    (Stage.ANY, 421): ServerError,  # service not available, closing the channel
    (Stage.ANY, 432): AuthError,  # a password transition is needed
    (Stage.ANY, 450): ServerError,  # action not taken, e.g. mailbox busy
    (Stage.ANY, 451): ServerError,  # local error in processing
    (Stage.ANY, 452): ServerError,  # insufficient system storage
    (Stage.ANY, 454): ServerError,  # TLS or authentication temporarily unavailable
    (Stage.ANY, 500): RequestRejectedError,  # syntax error, command unrecognised
    (Stage.ANY, 501): RequestRejectedError,  # syntax error in parameters
    (Stage.ANY, 502): RequestRejectedError,  # command not implemented
    (Stage.ANY, 503): RequestRejectedError,  # bad sequence of commands
    (Stage.ANY, 504): RequestRejectedError,  # parameter not implemented
    (Stage.ANY, 530): AuthError,  # authentication required
    (Stage.ANY, 534): AuthError,  # mechanism too weak
    (Stage.ANY, 535): AuthError,  # credentials invalid
    (Stage.ANY, 538): AuthError,  # encryption required for the mechanism
    (Stage.ANY, 552): RequestRejectedError,  # exceeded storage allocation: too big
    (Stage.ANY, 554): RequestRejectedError,  # transaction failed (content refused)
    (Stage.ANY, 555): RequestRejectedError,  # MAIL/RCPT parameters not recognised
    (Stage.MAIL, 550): AccountError,  # the sender is refused: not ours to send from
    (Stage.MAIL, 553): AccountError,  # the sender address is not allowed
    (Stage.RCPT, 450): RecipientDeferredError,  # mailbox unavailable for now (greylisting)
    (Stage.RCPT, 451): RecipientDeferredError,  # local error: try the recipient later
    (Stage.RCPT, 452): RecipientDeferredError,  # insufficient storage, too many recipients
    (Stage.RCPT, 550): RecipientRejectedError,  # mailbox unavailable: unknown, refused
    (Stage.RCPT, 551): RecipientRejectedError,  # user not local
    (Stage.RCPT, 552): RecipientDeferredError,  # RFC 5321 §4.5.3.1.10: read as 452
    (Stage.RCPT, 553): RecipientRejectedError,  # mailbox name not allowed
    (Stage.DATA, 552): RequestRejectedError,  # message too big
    (Stage.DATA, 554): RequestRejectedError,  # content refused (spam, policy)
}

#: The queue id a server reports in its ``250`` to DATA (Postfix ``queued as X``, Exim
#: ``id=X``, Sendmail ``X Message accepted``).
QUEUE_ID = re.compile(r"queued as\s+<?([\w.@-]+)|\bid=<?([\w.@-]+)|^([\w.-]+) Message accepted")

#: Authentication mechanisms tried, the first the server offers only (a failed login is
#: never repeated with another mechanism: lockouts).
AUTH_MECHANISMS = ("plain", "login", "cram-md5")


def reply_class(stage: Stage, code: int) -> type[ProviderError]:
    """The class :data:`REPLY_CLASSES` gives a reply at ``stage``."""
    listed = REPLY_CLASSES.get((stage, code)) or REPLY_CLASSES.get((Stage.ANY, code))
    if listed is not None:
        return listed
    return RequestRejectedError if 500 <= code < 600 else ServerError


class SmtpAdapter(ProviderAdapter):
    """Any SMTP server: STARTTLS or implicit TLS with a login, or a plain relay.

    ``api_key`` is ``MICROMAILER_SMTP_URL`` with its login (or, in sandbox mode, the
    sandbox's key), ``base_url`` the URL without it (or the sandbox's ``http://`` URL);
    ``options["ca_file"]`` trusts a private CA. A message goes whole or not at all: a
    recipient refused at ``RCPT`` aborts the transaction (nobody receives it) and raises the
    refusal's class. The message id is the ``Message-ID`` header the adapter sets.
    """

    kind = "smtp"
    #: RFC 5321 §4.5.3.1.8: a server must accept at least 100 recipients per message. The
    #: size is ``MICROMAILER_MAX_MESSAGE_BYTES``'s default; a server's own ``SIZE`` is
    #: checked before sending.
    capabilities = Capabilities(
        max_recipients=100, max_bytes=10 * MIB, tags=False, metadata=False
    )

    def __init__(
        self, *, api_key: str, base_url: str, client: HttpSender | AsyncHttpSender,
        name: str | None = None, options: Mapping[str, str] | None = None,
    ) -> None:
        sandbox = _scheme(base_url) in ("http", "https")
        super().__init__(
            api_key=api_key, base_url=base_url if sandbox else without_login(base_url),
            client=client, name=name, options=options,
        )
        self._server: SmtpServer | None = None
        if not sandbox:
            self._server = server_from_url(api_key, self.options.get("ca_file"))
        self._sandbox = sandbox
        self._timeouts: Timeouts = client_timeouts(client)

    # -- the HTTP hooks: not used -------------------------------------------------------------

    def build_request(self, message: Message) -> httpx.Request:
        raise NotImplementedError("the SMTP adapter speaks SMTP: it sends with send/send_async")

    def parse_success(self, response: httpx.Response) -> SendResult:
        raise NotImplementedError("the SMTP adapter reads SMTP replies, not HTTP answers")

    # -- sending ------------------------------------------------------------------------------

    def send(self, message: Message) -> SendResult:
        """Send ``message`` and wait (tools and tests: not on a running event loop)."""
        server = self._server or self._discover(cast(HttpSender, self._client).send)
        return asyncio.run(self._send_to(server, message))

    async def send_async(self, message: Message) -> SendResult:
        server = self._server
        if server is None:
            request = self._discovery_request()
            with self._map_transport_errors():
                response = await cast(AsyncHttpSender, self._client).send(request)
            server = self._read_discovery(response)
        return await self._send_to(server, message)

    async def _send_to(self, server: SmtpServer, message: Message) -> SendResult:
        try:
            return await self._converse(server, message)
        except NetworkError:
            if self._sandbox:  # the sandbox may have restarted elsewhere: ask again next time
                self._server = None
            raise

    async def _converse(self, server: SmtpServer, message: Message) -> SendResult:
        try:
            data = build_mime(message).as_bytes(policy=POLICY)
        except (ValueError, TypeError) as exc:
            raise RequestRejectedError(self.name, f"cannot write the message: {exc}") from exc
        smtp = aiosmtplib.SMTP(
            hostname=server.host, port=server.port, timeout=self._timeouts.command,
            use_tls=server.security is Security.IMPLICIT_TLS, start_tls=False,
            tls_context=server.tls_context, local_hostname=local_hostname(),
        )
        stage = Stage.CONNECT
        try:
            async with asyncio.timeout(self._timeouts.total):
                with self._map_smtp_errors(lambda: stage):
                    await smtp.connect(timeout=self._timeouts.connect)
                    stage = Stage.ANY
                    await self._secure_and_log_in(smtp, server)
                    stage = Stage.MAIL
                    await smtp.mail(message.sender.email, options=self._mail_options(smtp, data))
                    stage = Stage.RCPT
                    await self._recipients(smtp, message)
                    stage = Stage.DATA
                    reply = await smtp.data(data)
                    await _quietly(smtp.quit())
        except TimeoutError as exc:  # the whole send's bound (a worker's lease is sized by it)
            raise NetworkError(
                self.name, "timed out: no complete conversation within the total timeout"
            ) from exc
        finally:
            smtp.close()
        return SendResult(
            self.name, message_id(message),
            raw={"reply": f"{reply.code} {reply.message}", "queue_id": queue_id(reply.message)},
        )

    async def _secure_and_log_in(self, smtp: aiosmtplib.SMTP, server: SmtpServer) -> None:
        await smtp.ehlo()
        wants_tls = server.security in (Security.STARTTLS, Security.OPPORTUNISTIC)
        if wants_tls and smtp.supports_extension("starttls"):
            await smtp.starttls(tls_context=server.tls_context)
            await smtp.ehlo()
        elif server.security is Security.STARTTLS:
            raise AuthError(
                self.name, "the server offers no STARTTLS: refusing to send the password in "
                "clear (use smtps:// if it speaks TLS from the start)",
            )
        if not server.login:
            return
        mechanism = next((m for m in AUTH_MECHANISMS if m in smtp.server_auth_methods), None)
        if mechanism is None:
            offered = ", ".join(smtp.server_auth_methods) or "none"
            raise AuthError(
                self.name, f"the server offers no login we speak (PLAIN, LOGIN, CRAM-MD5; "
                f"offered: {offered})",
            )
        login = getattr(smtp, f"auth_{mechanism.replace('-', '')}")
        await login(server.username, server.password or "")

    def _mail_options(self, smtp: aiosmtplib.SMTP, data: bytes) -> list[str]:
        """``SIZE=`` when the server has the extension; a message over its limit is refused
        here, before the transaction."""
        if not smtp.supports_extension("size"):
            return []
        limit = smtp.esmtp_extensions.get("size", "")
        if limit.isdigit() and 0 < int(limit) < len(data):
            raise RequestRejectedError(
                self.name, f"the message is {len(data):,} bytes and the server takes at most "
                f"{int(limit):,} (its SIZE)",
            )
        return [f"SIZE={len(data)}"]

    async def _recipients(self, smtp: aiosmtplib.SMTP, message: Message) -> None:
        """``RCPT TO`` for to, cc and bcc alike; any refusal aborts the transaction."""
        refused: list[aiosmtplib.SMTPRecipientRefused] = []
        for address in message.recipients:
            try:
                await smtp.rcpt(address.email)
            except aiosmtplib.SMTPRecipientRefused as exc:
                if not smtp.is_connected:
                    raise
                refused.append(exc)
        if not refused:
            return
        await _quietly(smtp.rset())
        errors = [self._reply_error(Stage.RCPT, exc.code, exc.message) for exc in refused]
        worst = next((e for e in errors if not e.transient), errors[0])
        others = "; ".join(
            f"{exc.recipient}: {exc.code} {exc.message}" for exc in refused[1:]
        )
        if others:
            worst.body = f"{worst.body}; {others}"[:300]
        raise worst

    # -- errors -------------------------------------------------------------------------------

    def _reply_error(self, stage: Stage, code: int, text: str) -> ProviderError:
        """The error a refusing reply means (:func:`reply_class`); the reply is its reason."""
        error_class = reply_class(stage, code)
        steps = {Stage.CONNECT: "greeting", Stage.ANY: "refused"}
        step = steps.get(stage, f"{stage.upper()} refused")
        return error_class(self.name, f"{step}: {code} {' '.join(text.split())}",
                           body=f"{code} {text}")

    @contextmanager
    def _map_smtp_errors(self, stage: Callable[[], Stage]) -> Iterator[None]:
        """aiosmtplib's and ssl's errors as the taxonomy's, ``from`` the original."""
        try:
            yield
        except aiosmtplib.SMTPRecipientRefused as exc:
            raise self._reply_error(Stage.RCPT, exc.code, exc.message) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise self._reply_error(stage(), exc.code, exc.message) from exc
        except aiosmtplib.SMTPTimeoutError as exc:
            raise NetworkError(self.name, f"timed out ({type(exc).__name__}: {exc})") from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            certificate = _certificate_failure(exc)
            if certificate is not None:
                self._raise_certificate(certificate, exc)
            raise NetworkError(self.name, f"network error ({type(exc).__name__}: {exc})") from exc

    def _raise_certificate(self, failure: ssl.SSLCertVerificationError, exc: Exception) -> NoReturn:
        """A certificate we cannot trust is a :class:`NetworkError`, as HTTPS providers' are:
        no usable connection, every email meets it until the server or the CA file is
        fixed, so the provider's score drops and the next provider takes the email."""
        detail = failure.verify_message or failure.reason or str(failure)
        raise NetworkError(
            self.name, f"TLS certificate not trusted ({detail}); a private CA is trusted with "
            "MICROMAILER_SMTP_CA_FILE",
        ) from exc

    # -- sandbox discovery --------------------------------------------------------------------

    def _discover(self, send: Callable[[httpx.Request], httpx.Response]) -> SmtpServer:
        request = self._discovery_request()
        with self._map_transport_errors():
            response = send(request)
        return self._read_discovery(response)

    def _discovery_request(self) -> httpx.Request:
        return self._client.build_request("GET", f"{self.base_url}{SANDBOX_SERVER_PATH}")

    def _read_discovery(self, response: httpx.Response) -> SmtpServer:
        if not response.is_success:
            raise ServerError(
                self.name, "the sandbox did not say where its SMTP fake listens",
                status_code=response.status_code, body=response.text,
            )
        try:
            server = sandbox_server(self.base_url, self._api_key, response.json())
        except ValueError as exc:
            raise ServerError(self.name, f"unreadable sandbox answer: {exc}",
                              status_code=response.status_code, body=response.text) from exc
        self._server = server
        return server


def queue_id(reply: str) -> str | None:
    """The server's queue id in its reply to DATA, when it says one."""
    match = QUEUE_ID.search(reply)
    return next((group for group in match.groups() if group), None) if match else None


@cache
def local_hostname() -> str:
    """This host's name for EHLO, looked up once per process (it may cost a DNS query)."""
    name = socket.getfqdn()
    return name if name and name.isascii() and " " not in name else "localhost"


def _scheme(url: str) -> str:
    return url.partition("://")[0].lower() if "://" in url else ""


def _certificate_failure(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


async def _quietly(step: Awaitable[Any]) -> None:
    """Run a courtesy command (QUIT, RSET) whose failure changes nothing."""
    with suppress(aiosmtplib.SMTPException, OSError):
        await step


__all__ = [
    "AUTH_MECHANISMS",
    "QUEUE_ID",
    "REPLY_CLASSES",
    "SANDBOX_SERVER_PATH",
    "SmtpAdapter",
    "Stage",
    "queue_id",
    "reply_class",
]
