"""Serving the SMTP fake: aiosmtpd on a port of its own, on an event loop in its own thread.

The sandbox starts it beside its HTTP app (``SandboxThread``, ``run_sandbox``) and
advertises it at ``GET /_sandbox/smtp/server``. It offers STARTTLS with a self-signed
certificate made at start-up when ``cryptography`` is installed, and no STARTTLS otherwise.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import logging
import socket
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP

from micromailer.sandbox.capture import ProviderState
from micromailer.sandbox.smtp import SmtpEndpoint, SmtpFakeHandler

#: The ``SIZE`` the fake advertises: the default ``MICROMAILER_MAX_MESSAGE_BYTES``.
DATA_SIZE_LIMIT = 10 * 1024 * 1024
#: The name in the fake's greeting and certificate.
FAKE_HOSTNAME = "sandbox.micromailer.test"


class _WithoutLoginDataNotice(logging.Filter):
    """Drops aiosmtpd's notice, on every login, that an attribute we never use is deprecated."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


_AIOSMTPD_LOG = logging.getLogger("mail.log")
_NOTICE_FILTER = _WithoutLoginDataNotice()


class SmtpFakeServer:
    """The fake on ``host:port`` (``port=0``: a free one) in a daemon thread.

    ``starttls`` is a server context offering STARTTLS (required before AUTH), with
    ``certificate`` its PEM to advertise; ``implicit_tls`` makes it speak TLS from the first
    byte instead; ``auth`` requires a login (the password is the state's key).
    """

    def __init__(
        self, state: ProviderState, host: str = "127.0.0.1", port: int = 0, *,
        starttls: ssl.SSLContext | None = None, certificate: str | None = None,
        implicit_tls: ssl.SSLContext | None = None, auth: bool = True,
        data_size_limit: int = DATA_SIZE_LIMIT, handler: SmtpFakeHandler | None = None,
    ) -> None:
        self.handler = handler or SmtpFakeHandler(state)
        self.host = host
        self._port = port
        self._starttls = starttls
        self._certificate = certificate
        self._implicit_tls = implicit_tls
        self._auth = auth
        self._data_size_limit = data_size_limit
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self.endpoint: SmtpEndpoint | None = None

    def _factory(self) -> SMTP:
        options: dict[str, Any] = {}
        if self._auth:
            options = {
                "authenticator": self.handler.authenticate,
                "auth_required": True,
                # With STARTTLS, a login only after it. Over implicit TLS every byte is
                # encrypted already (aiosmtpd does not see it); without TLS, in clear.
                "auth_require_tls": self._starttls is not None,
            }
        return SMTP(
            self.handler, hostname=FAKE_HOSTNAME, ident="micromailer sandbox SMTP fake",
            tls_context=self._starttls, require_starttls=self._starttls is not None,
            data_size_limit=self._data_size_limit, decode_data=False, **options,
        )

    def start(self) -> SmtpEndpoint:
        """Bind, serve in the background, and return where."""
        if self._thread is not None:
            raise RuntimeError("the SMTP fake is already started")
        _AIOSMTPD_LOG.addFilter(_NOTICE_FILTER)  # once: a logger keeps a filter once
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET,
                             socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._port))
        loop = asyncio.new_event_loop()
        self._server = loop.run_until_complete(
            loop.create_server(self._factory, sock=sock, ssl=self._implicit_tls)
        )
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name="micromailer-sandbox-smtp", daemon=True
        )
        self._thread.start()
        self.endpoint = SmtpEndpoint(
            host=self.host, port=sock.getsockname()[1],
            starttls=self._starttls is not None, certificate=self._certificate,
        )
        return self.endpoint

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listener and the loop; connections still open are dropped."""
        loop, server, thread = self._loop, self._server, self._thread
        if loop is None or server is None or thread is None:
            return

        async def close() -> None:
            server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), loop).result(timeout)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if not thread.is_alive():
            loop.close()
        self._loop = self._server = self._thread = None

    def __enter__(self) -> SmtpEndpoint:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def self_signed_tls(host: str) -> tuple[ssl.SSLContext, str] | None:
    """A server context for STARTTLS and its certificate's PEM, made now for the loopback
    names and ``host``; ``None`` when ``cryptography`` is not installed (then no STARTTLS)."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        return None
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.DNSName(FAKE_HOSTNAME),
                                     x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                     x509.IPAddress(ipaddress.ip_address("::1"))]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, FAKE_HOSTNAME)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.TemporaryDirectory() as directory:  # ssl loads chains from files only
        path = Path(directory) / "sandbox-smtp.pem"
        path.write_text(key_pem + cert_pem)
        context.load_cert_chain(path)
    return context, cert_pem


def start_sandbox_smtp(app: Any, host: str, port: int = 0) -> SmtpFakeServer:
    """Start the SMTP fake of a sandbox ``app`` on ``host`` and advertise it on the app."""
    tls = self_signed_tls(host)
    server = SmtpFakeServer(
        app.state.sandbox["smtp"], host, port,
        starttls=tls[0] if tls else None, certificate=tls[1] if tls else None,
    )
    app.state.smtp_server = server.start()
    return server


__all__ = [
    "DATA_SIZE_LIMIT",
    "FAKE_HOSTNAME",
    "SmtpFakeServer",
    "self_signed_tls",
    "start_sandbox_smtp",
]
