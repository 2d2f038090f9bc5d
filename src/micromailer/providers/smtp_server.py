"""Where the SMTP adapter connects and how: host, port, TLS, login, timeouts.

``smtp://user:pass@host:587`` upgrades with STARTTLS, which a URL with a login requires (a
password never travels in clear); ``smtps://…:465`` speaks TLS from the first byte;
``smtp://host:25`` without a login upgrades when the server offers STARTTLS, else stays
plain. Certificates are checked against ``ca_file`` when given, else the system's CAs and
certifi's.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
import certifi
import httpx

from micromailer.providers.errors import ConfigurationError

#: Default ports: submission with STARTTLS (RFC 6409), implicit TLS (RFC 8314), relay.
SUBMISSION_PORT = 587
IMPLICIT_TLS_PORT = 465
RELAY_PORT = 25

#: The login the sandbox's SMTP fake is given (it checks the password, the sandbox's key).
SANDBOX_LOGIN = "micromailer"


class Security(StrEnum):
    """How the connection is protected."""

    IMPLICIT_TLS = "implicit-tls"  # smtps://
    STARTTLS = "starttls"  # smtp:// with a login: upgrade or refuse to log in
    OPPORTUNISTIC = "opportunistic"  # smtp:// without a login: upgrade when offered
    PLAIN = "plain"  # the sandbox's fake without a certificate


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to connect, to wait for each reply, and for the whole send (``None``: no
    bound)."""

    connect: float
    command: float
    total: float | None


#: When the client says nothing: the defaults of ``MICROMAILER_PROVIDER_CONNECT_TIMEOUT``,
#: ``MICROMAILER_PROVIDER_TIMEOUT`` and ``MICROMAILER_PROVIDER_TOTAL_TIMEOUT``.
DEFAULT_TIMEOUTS = Timeouts(connect=5.0, command=20.0, total=30.0)


def client_timeouts(client: Any) -> Timeouts:
    """The timeouts of the adapter's HTTP client (an ``httpx.Client``'s phases, or the
    worker's aiohttp timeouts with their total), so that SMTP keeps the operator's settings
    and the worker's lease; :data:`DEFAULT_TIMEOUTS` for what the client does not say."""
    timeout = getattr(client, "timeout", None)
    if isinstance(timeout, httpx.Timeout):
        return Timeouts(
            connect=timeout.connect or DEFAULT_TIMEOUTS.connect,
            command=timeout.read or DEFAULT_TIMEOUTS.command,
            total=None,  # httpx bounds phases only; blocking clients are tools and tests
        )
    if isinstance(timeout, aiohttp.ClientTimeout):
        return Timeouts(
            connect=timeout.sock_connect or timeout.connect or DEFAULT_TIMEOUTS.connect,
            command=timeout.sock_read or DEFAULT_TIMEOUTS.command,
            total=timeout.total or DEFAULT_TIMEOUTS.total,
        )
    return DEFAULT_TIMEOUTS


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """One server to send through, and the login to use there."""

    host: str
    port: int
    security: Security
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls_context: ssl.SSLContext | None = field(default=None, repr=False)

    @property
    def login(self) -> bool:
        return self.username is not None


def server_from_url(url: str, ca_file: str | None = None) -> SmtpServer:
    """The server of ``MICROMAILER_SMTP_URL``; raises :class:`ConfigurationError` (whose
    message never holds the password)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigurationError(
            "MICROMAILER_SMTP_URL must look like smtp://user:password@host:587 (STARTTLS) or "
            "smtps://user:password@host:465 (TLS)"
        )
    try:
        port = parts.port
    except ValueError:
        raise ConfigurationError("MICROMAILER_SMTP_URL has an invalid port") from None
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if scheme == "smtps":
        security, default_port = Security.IMPLICIT_TLS, IMPLICIT_TLS_PORT
    elif username is not None:
        security, default_port = Security.STARTTLS, SUBMISSION_PORT
    else:
        security, default_port = Security.OPPORTUNISTIC, RELAY_PORT
    return SmtpServer(
        host=parts.hostname, port=port or default_port, security=security,
        username=username, password=password if username is not None else None,
        tls_context=verifying_context(ca_file),
    )


def sandbox_server(base_url: str, key: str, answer: Any) -> SmtpServer:
    """The sandbox's SMTP fake, from ``GET /_sandbox/smtp/server``; reached at the sandbox's
    own host (the name this process reaches the sandbox by). Its certificate, made at the
    sandbox's start-up, is the only one trusted: it came over the same channel as the rest.
    Without one the fake offers no STARTTLS and the sandbox key, no secret, goes in clear."""
    if not isinstance(answer, dict) or not isinstance(answer.get("port"), int):
        raise ValueError("expected {\"host\", \"port\", \"starttls\"}")
    host = httpx.URL(base_url).host
    certificate = answer.get("certificate")
    if answer.get("starttls") and isinstance(certificate, str):
        context = ssl.create_default_context(cadata=certificate)
        context.check_hostname = False  # pinned: only this very certificate is trusted
        return SmtpServer(host, answer["port"], Security.STARTTLS, SANDBOX_LOGIN, key, context)
    return SmtpServer(host, answer["port"], Security.PLAIN, SANDBOX_LOGIN, key)


def verifying_context(ca_file: str | None) -> ssl.SSLContext:
    """A client context that checks certificates and host names: against ``ca_file`` (a
    private CA), else the system's CAs and certifi's."""
    if ca_file:
        return ssl.create_default_context(cafile=ca_file)
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=certifi.where())
    return context


def without_login(url: str) -> str:
    """``url`` without its ``user:password@`` part, for reprs and logs."""
    parts = urlsplit(url)
    if parts.hostname is None:
        return parts.scheme + "://" if parts.scheme else ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


__all__ = [
    "DEFAULT_TIMEOUTS",
    "IMPLICIT_TLS_PORT",
    "RELAY_PORT",
    "SANDBOX_LOGIN",
    "SUBMISSION_PORT",
    "Security",
    "SmtpServer",
    "Timeouts",
    "client_timeouts",
    "sandbox_server",
    "server_from_url",
    "verifying_context",
    "without_login",
]
