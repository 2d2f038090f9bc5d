"""SmtpAdapter against real SMTP servers: the sandbox's aiosmtpd fake with STARTTLS, implicit
TLS and AUTH (certificates made by trustme now), scripted servers, and the sandbox itself."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import socketserver
import ssl
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import message_from_bytes
from typing import Any, ClassVar
from urllib.parse import quote

import aiosmtplib
import httpx
import pytest
import trustme

from micromailer.config import Settings
from micromailer.domain.message import Address, Attachment, Message
from micromailer.domain.simulator import ReservedRecipient
from micromailer.providers.errors import (
    AuthError,
    ConfigurationError,
    NetworkError,
    ProviderError,
    RecipientRejectedError,
    RequestRejectedError,
    ServerError,
)
from micromailer.providers.registry import make_async_http_client
from micromailer.providers.smtp import REPLY_CLASSES, SmtpAdapter, Stage, queue_id, reply_class
from micromailer.providers.smtp_mime import POLICY, build_mime
from micromailer.providers.smtp_server import Timeouts, client_timeouts
from micromailer.sandbox import SandboxThread
from micromailer.sandbox.capture import CapturedMessage, ProviderState
from micromailer.sandbox.smtp import FAULT_REPLIES, SmtpEndpoint, SmtpFakeHandler, fault_reply
from micromailer.sandbox.smtp_server import SmtpFakeServer
from tests.contract.helpers import SANDBOX_KEYS, RequestRecorder, closed_port_url, table_rows
from tests.support.fakes import make_message

FaultSetter = Callable[..., dict[str, Any]]

#: A login with the characters a URL must escape: the adapter reads it URL-decoded.
USER = "mailer@example.org"
PASSWORD = "p@ss:w/rd%é"

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


# -- servers ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("smtp-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def state() -> ProviderState:
    return ProviderState(name="smtp", api_key=PASSWORD, rng=random.Random(7))


@pytest.fixture
def starttls_server(state: ProviderState, server_tls: ssl.SSLContext) -> Iterator[SmtpEndpoint]:
    """The fake requiring STARTTLS before anything else, and a login over it."""
    with SmtpFakeServer(state, starttls=server_tls) as endpoint:
        yield endpoint


def adapter_for(
    endpoint: SmtpEndpoint, client: httpx.Client, *, scheme: str = "smtp", login: bool = True,
    password: str = PASSWORD, ca_file: str | None = None,
) -> SmtpAdapter:
    """An adapter built as the registry builds it from ``MICROMAILER_SMTP_URL``."""
    origin = f"{scheme}://127.0.0.1:{endpoint.port}"
    userinfo = f"{quote(USER, safe='')}:{quote(password, safe='')}@" if login else ""
    return SmtpAdapter(
        api_key=origin.replace("://", f"://{userinfo}"), base_url=origin, client=client,
        options={"ca_file": ca_file} if ca_file else None,
    )


def captured(state: ProviderState) -> list[CapturedMessage]:
    return state.capture.messages()


def rich_message(**overrides: Any) -> Message:
    fields: dict[str, Any] = {
        "to": (Address("alice@example.com", "Alice Example"), Address("bob@example.com")),
        "cc": (Address("carol@example.com", "Carol Ünicode"),),
        "bcc": (Address("hidden@example.net", "Hidden Person"),),
        "reply_to": (Address("help@example.org", "Help Desk"),),
        "html": '<p>Thanks</p><img src="cid:logo-1">',
        "attachments": (
            Attachment("receipt.pdf", "application/pdf", os.urandom(200_000)),
            Attachment("notes ü.txt", "text/plain", b"line one\r\nline two\nno newline"),
            Attachment("logo.png", "image/png", PNG, content_id="logo-1"),
        ),
        "headers": (("X-Campaign", "spring"), ("List-Unsubscribe", "<mailto:u@example.org>")),
    }
    fields.update(overrides)
    return make_message(**fields)


# -- success ----------------------------------------------------------------------------------


def test_starttls_and_login_send_and_the_message_id_is_the_message_id_header(
    starttls_server: SmtpEndpoint, state: ProviderState, http_client: httpx.Client,
    ca_file: str,
) -> None:
    """The fake refuses every command before STARTTLS and a login outside TLS: success
    proves both, with the URL-decoded user and password."""
    message = make_message()

    result = adapter_for(starttls_server, http_client, ca_file=ca_file).send(message)

    assert result.provider == "smtp"
    assert result.message_id == f"<{message.email_id}@example.org>"
    [stored] = captured(state)
    assert stored.message_id == result.message_id
    assert (stored.to, stored.to_name, stored.addressed_as) == ("alice@example.com",
                                                                "Alice Example", "to")
    assert (stored.from_email, stored.from_name) == ("billing@example.org", "Example Billing")
    assert stored.subject == message.subject
    assert stored.text is not None and stored.text.strip() == message.text
    assert stored.html is not None and stored.html.strip() == message.html
    assert stored.metadata == {"email_id": message.email_id}
    assert state.capture.stats() == {"accepted": 1, "rejected": 0}


def test_the_servers_queue_id_is_kept_in_raw(
    starttls_server: SmtpEndpoint, http_client: httpx.Client, ca_file: str
) -> None:
    result = adapter_for(starttls_server, http_client, ca_file=ca_file).send(make_message())

    assert result.raw["reply"].startswith("250 ")
    assert result.raw["queue_id"] and result.raw["queue_id"] in result.raw["reply"]


@pytest.mark.parametrize(("reply", "expected"), [
    ("2.0.0 Ok: queued as 4XyZ1abC", "4XyZ1abC"),  # Postfix
    ("OK id=1tAbCd-000123-Xy", "1tAbCd-000123-Xy"),  # Exim
    ("4BJ2xyz012345 Message accepted for delivery", "4BJ2xyz012345"),  # Sendmail
    ("2.0.0 OK 1700000000 a1-20020a", None),  # says none we can read
])
def test_queue_ids_are_read_from_the_usual_servers_replies(
    reply: str, expected: str | None
) -> None:
    assert queue_id(reply) == expected


#: aiosmtpd does not see implicit TLS, so its fake takes AUTH "without TLS" there and warns.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_implicit_tls_sends(
    state: ProviderState, server_tls: ssl.SSLContext, http_client: httpx.Client, ca_file: str
) -> None:
    with SmtpFakeServer(state, implicit_tls=server_tls) as endpoint:
        result = adapter_for(endpoint, http_client, scheme="smtps", ca_file=ca_file).send(
            make_message()
        )

    assert result.message_id
    assert len(captured(state)) == 1


def test_a_relay_without_login_and_without_tls_takes_the_message_in_plain(
    state: ProviderState, http_client: httpx.Client
) -> None:
    with SmtpFakeServer(state, auth=False) as endpoint:
        adapter_for(endpoint, http_client, login=False).send(make_message())

    assert len(captured(state)) == 1


def test_a_relay_without_login_upgrades_when_the_server_offers_starttls(
    state: ProviderState, server_tls: ssl.SSLContext, http_client: httpx.Client, ca_file: str
) -> None:
    """The fake requires STARTTLS: without the upgrade it would refuse MAIL FROM."""
    with SmtpFakeServer(state, starttls=server_tls, auth=False) as endpoint:
        adapter_for(endpoint, http_client, login=False, ca_file=ca_file).send(make_message())

    assert len(captured(state)) == 1


# -- the message ------------------------------------------------------------------------------


def test_to_cc_and_bcc_each_arrive_and_bcc_only_in_the_envelope(
    starttls_server: SmtpEndpoint, state: ProviderState, http_client: httpx.Client,
    ca_file: str,
) -> None:
    message = rich_message()

    adapter_for(starttls_server, http_client, ca_file=ca_file).send(message)

    stored = captured(state)
    assert [(item.to, item.addressed_as) for item in stored] == [
        ("alice@example.com", "to"), ("bob@example.com", "to"), ("carol@example.com", "cc"),
        ("hidden@example.net", "bcc"),
    ]
    first = stored[0]
    assert first.to_all == ("Alice Example <alice@example.com>", "bob@example.com")
    assert first.cc == ("Carol Ünicode <carol@example.com>",)
    assert first.reply_to == ("Help Desk <help@example.org>",)
    assert first.bcc == ("hidden@example.net",)
    assert "bcc" not in {name.lower() for name in first.headers}
    assert not any("hidden" in value.lower() for value in first.headers.values())


def test_the_written_message_never_names_a_bcc_recipient() -> None:
    data = build_mime(rich_message()).as_bytes(policy=POLICY)

    assert b"hidden@example.net" not in data
    assert b"Hidden Person" not in data
    assert b"\nBcc:" not in data


def test_attachments_arrive_byte_for_byte_and_the_inline_image_with_its_content_id(
    starttls_server: SmtpEndpoint, state: ProviderState, http_client: httpx.Client,
    ca_file: str,
) -> None:
    message = rich_message()

    adapter_for(starttls_server, http_client, ca_file=ca_file).send(message)

    received = {item.filename: item for item in captured(state)[0].attachments}
    for sent in message.attachments:
        got = received[sent.filename]
        assert hashlib.sha256(got.content).hexdigest() == hashlib.sha256(sent.content).hexdigest()
        assert got.content_type == sent.content_type
        assert got.content_id == sent.content_id


def test_the_mime_tree_is_alternative_bodies_with_related_images_and_mixed_files() -> None:
    parsed = message_from_bytes(build_mime(rich_message()).as_bytes(policy=POLICY))

    def tree(part: Any) -> Any:
        if part.is_multipart():
            return (part.get_content_type(), [tree(child) for child in part.get_payload()])
        return part.get_content_type()

    assert tree(parsed) == ("multipart/mixed", [
        ("multipart/alternative", [
            "text/plain", ("multipart/related", ["text/html", "image/png"]),
        ]),
        "application/pdf", "text/plain",
    ])
    image = next(part for part in parsed.walk() if part.get_content_type() == "image/png")
    assert image["Content-ID"] == "<logo-1>"
    assert image.get_content_disposition() == "inline"


def test_headers_reply_to_and_custom_headers_arrive(
    starttls_server: SmtpEndpoint, state: ProviderState, http_client: httpx.Client,
    ca_file: str,
) -> None:
    message = rich_message(subject="Reçu n° 42")

    adapter_for(starttls_server, http_client, ca_file=ca_file).send(message)

    stored = captured(state)[0]
    assert stored.subject == "Reçu n° 42"
    assert stored.headers["X-Campaign"] == "spring"
    assert stored.headers["List-Unsubscribe"] == "<mailto:u@example.org>"
    assert stored.headers["Reply-To"] == "Help Desk <help@example.org>"
    assert stored.headers["Message-ID"] == f"<{message.email_id}@example.org>"
    assert "Date" in stored.headers


def test_html_only_and_text_only_messages_carry_one_body(
    starttls_server: SmtpEndpoint, state: ProviderState, http_client: httpx.Client,
    ca_file: str,
) -> None:
    adapter = adapter_for(starttls_server, http_client, ca_file=ca_file)

    adapter.send(make_message(text=""))
    adapter.send(make_message(html=""))

    html_only, text_only = captured(state)
    assert (html_only.text, text_only.html) == (None, None)
    assert html_only.html and text_only.text


def rfc5322_problems(data: bytes) -> list[str]:
    """What RFC 5322 (§2.1.1, §2.3, §3.6) and a 7-bit transport refuse in a written message."""
    problems = []
    if any(byte > 127 for byte in data):
        problems.append("8-bit bytes")
    if data.replace(b"\r\n", b"").count(b"\n") or data.replace(b"\r\n", b"").count(b"\r"):
        problems.append("a bare CR or LF")
    if any(len(line) > 998 for line in data.split(b"\r\n")):
        problems.append("a line over 998 characters")
    head = data.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
    names = [line.split(":", 1)[0].lower() for line in head.split("\r\n")
             if line and not line[0].isspace()]
    for required in ("from", "date"):
        if names.count(required) != 1:
            problems.append(f"{names.count(required)} {required} fields")
    if "bcc" in names:
        problems.append("a bcc field")
    return problems


def test_the_written_message_meets_rfc_5322_and_a_7_bit_transport() -> None:
    assert rfc5322_problems(build_mime(rich_message()).as_bytes(policy=POLICY)) == []


def test_the_rfc_5322_check_is_not_vacuous() -> None:
    mime = build_mime(rich_message())
    del mime["Date"]
    mime["Bcc"] = "hidden@example.net"
    data = mime.as_bytes(policy=POLICY) + "é\nlast".encode()

    assert rfc5322_problems(data) == [
        "8-bit bytes", "a bare CR or LF", "0 date fields", "a bcc field",
    ]


def test_the_fake_refuses_a_message_without_date_as_rfc_5322_requires(
    state: ProviderState
) -> None:
    async def send(port: int) -> None:
        await aiosmtplib.send(b"From: a@example.org\r\nSubject: x\r\n\r\nhi\r\n",
                              sender="a@example.org", recipients=["b@example.com"],
                              hostname="127.0.0.1", port=port, start_tls=False)

    with (SmtpFakeServer(state, auth=False) as endpoint,
          pytest.raises(aiosmtplib.SMTPDataError) as caught):
        asyncio.run(send(endpoint.port))

    assert caught.value.code == 554
    assert captured(state) == []


def test_a_message_over_the_servers_size_is_refused_before_the_transaction(
    state: ProviderState, http_client: httpx.Client
) -> None:
    big = make_message(attachments=(Attachment("big.bin", "application/octet-stream",
                                               os.urandom(6000)),))
    with (SmtpFakeServer(state, auth=False, data_size_limit=4000) as endpoint,
          pytest.raises(RequestRejectedError) as caught):
        adapter_for(endpoint, http_client, login=False).send(big)

    assert "SIZE" in caught.value.reason
    assert state.capture.stats() == {"accepted": 0, "rejected": 0}


# -- the reply table --------------------------------------------------------------------------


class ScriptedHandler(SmtpFakeHandler):
    """The fake, answering ``reply`` at ``stage`` (``ANY`` rows at MAIL FROM)."""

    def __init__(self, state: ProviderState, stage: Stage, reply: str) -> None:
        super().__init__(state)
        self.stage, self.reply = stage, reply

    async def handle_MAIL(self, *args: Any) -> str:
        if self.stage in (Stage.MAIL, Stage.ANY):
            return self.reply
        return await super().handle_MAIL(*args)

    async def handle_RCPT(self, *args: Any) -> str:
        if self.stage is Stage.RCPT:
            return self.reply
        return await super().handle_RCPT(*args)

    async def handle_DATA(self, *args: Any) -> str:
        if self.stage is Stage.DATA:
            return self.reply
        return await super().handle_DATA(*args)


@pytest.mark.parametrize(("answer", "expected"), table_rows(REPLY_CLASSES))
def test_each_reply_of_the_table_raises_its_class(
    state: ProviderState, server_tls: ssl.SSLContext, http_client: httpx.Client, ca_file: str,
    answer: tuple[Stage, int], expected: type[ProviderError],
) -> None:
    stage, code = answer
    reply = f"{code} {code // 100}.0.0 scripted reply"
    if stage is Stage.CONNECT:
        with scripted_server(greeting=reply) as port:
            error = failed(SmtpAdapter(api_key=f"smtp://127.0.0.1:{port}",
                                       base_url=f"smtp://127.0.0.1:{port}", client=http_client))
    else:
        handler = ScriptedHandler(state, stage, reply)
        with SmtpFakeServer(state, starttls=server_tls, handler=handler) as endpoint:
            error = failed(adapter_for(endpoint, http_client, ca_file=ca_file))

    assert type(error) is expected
    assert f"{code} {code // 100}.0.0 scripted reply" in error.reason
    assert error.status_code is None  # SMTP codes are not HTTP statuses


def failed(adapter: SmtpAdapter, message: Message | None = None) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        adapter.send(message or make_message())
    return caught.value


@pytest.mark.parametrize(("stage", "code", "expected"), [
    (Stage.RCPT, 559, RequestRejectedError),  # an unlisted 5xx: about the request
    (Stage.DATA, 471, ServerError),  # an unlisted 4xx: may pass
    (Stage.MAIL, 452, ServerError),  # a code listed for RCPT only takes its ANY row elsewhere
])
def test_replies_the_table_does_not_list_take_their_class_by_first_digit(
    stage: Stage, code: int, expected: type[ProviderError]
) -> None:
    assert reply_class(stage, code) is expected


def test_a_refused_recipient_aborts_the_whole_message(
    starttls_server: SmtpEndpoint, state: ProviderState, http_client: httpx.Client,
    ca_file: str,
) -> None:
    message = make_message(to=(Address("alice@example.com"),
                               Address(ReservedRecipient.PERM_FAIL.address)))

    error = failed(adapter_for(starttls_server, http_client, ca_file=ca_file), message)

    assert isinstance(error, RecipientRejectedError)
    assert ReservedRecipient.PERM_FAIL.address in error.reason
    assert captured(state) == []


# -- credentials, TLS and the network ---------------------------------------------------------


def test_a_wrong_password_is_auth_error_and_the_password_stays_out_of_errors_and_reprs(
    starttls_server: SmtpEndpoint, state: ProviderState, http_client: httpx.Client,
    ca_file: str,
) -> None:
    adapter = adapter_for(starttls_server, http_client, password="wrong-secret",
                          ca_file=ca_file)

    error = failed(adapter)

    assert isinstance(error, AuthError)
    assert "535" in error.reason
    shown = str(error) + error.body + repr(adapter) + adapter.base_url
    assert "wrong-secret" not in shown and USER not in shown
    assert state.capture.stats() == {"accepted": 0, "rejected": 1}


def test_a_certificate_from_an_untrusted_ca_is_network_error(
    starttls_server: SmtpEndpoint, http_client: httpx.Client
) -> None:
    """Without the CA file the trustme CA is unknown: no login, no message."""
    error = failed(adapter_for(starttls_server, http_client))

    assert isinstance(error, NetworkError)
    assert "certificate" in error.reason
    assert "MICROMAILER_SMTP_CA_FILE" in error.reason


def test_a_refused_connection_is_network_error(http_client: httpx.Client) -> None:
    port = httpx.URL(closed_port_url()).port
    adapter = SmtpAdapter(api_key=f"smtp://u:p@127.0.0.1:{port}",
                          base_url=f"smtp://127.0.0.1:{port}", client=http_client)

    error = failed(adapter)

    assert isinstance(error, NetworkError)
    assert "p@" not in str(error)


def test_a_login_is_never_sent_to_a_server_without_starttls(http_client: httpx.Client) -> None:
    """The server offers AUTH in clear; the adapter refuses before AUTH: no password leaves."""
    with scripted_server() as port:
        login = f"{quote(USER, safe='')}:{quote(PASSWORD, safe='')}"
        adapter = SmtpAdapter(api_key=f"smtp://{login}@127.0.0.1:{port}",
                              base_url=f"smtp://127.0.0.1:{port}", client=http_client)
        error = failed(adapter)
        received = b"".join(ScriptedSmtp.received)

    assert isinstance(error, AuthError)
    assert "STARTTLS" in error.reason
    assert b"EHLO" in received
    assert b"AUTH" not in received.upper()
    assert quote(PASSWORD, safe="").encode() not in received
    assert PASSWORD.encode() not in received


def test_a_slow_server_is_network_error_within_the_clients_timeouts(
    state: ProviderState, http_client: httpx.Client
) -> None:
    state.faults.configure(state.faults.settings.model_copy(update={"latency_ms": 3000.0}))
    with SmtpFakeServer(state, auth=False) as endpoint:
        error = failed(adapter_for(endpoint, http_client, login=False))  # reads time out at 2 s

    assert isinstance(error, NetworkError)
    assert "timed out" in error.reason


def test_the_workers_total_timeout_bounds_the_whole_conversation(state: ProviderState) -> None:
    state.faults.configure(state.faults.settings.model_copy(update={"latency_ms": 3000.0}))
    settings = Settings(provider_timeout=10.0, provider_connect_timeout=1.0,
                        provider_total_timeout=0.5)

    async def send(port: int) -> None:
        async with make_async_http_client(settings) as client:
            adapter = SmtpAdapter(api_key=f"smtp://127.0.0.1:{port}",
                                  base_url=f"smtp://127.0.0.1:{port}", client=client)
            await adapter.send_async(make_message())

    with SmtpFakeServer(state, auth=False) as endpoint, pytest.raises(NetworkError) as caught:
        asyncio.run(send(endpoint.port))

    assert "total timeout" in caught.value.reason


def test_timeouts_follow_the_client() -> None:
    settings = Settings(provider_timeout=7.0, provider_connect_timeout=2.0,
                        provider_total_timeout=11.0)

    assert client_timeouts(make_async_http_client(settings)) == Timeouts(2.0, 7.0, 11.0)
    assert client_timeouts(httpx.Client(timeout=httpx.Timeout(3.0, connect=1.0))) == Timeouts(
        1.0, 3.0, None
    )
    assert client_timeouts(object()) == Timeouts(5.0, 20.0, 30.0)


@pytest.mark.parametrize("url", ["ftp://user:s3cret@mail.example.com", "smtp://user:s3cret@"])
def test_a_wrong_url_is_a_configuration_error_that_hides_the_password(
    url: str, http_client: httpx.Client
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        SmtpAdapter(api_key=url, base_url=url, client=http_client)

    assert "s3cret" not in str(caught.value)


def test_the_http_hooks_say_the_adapter_speaks_smtp(http_client: httpx.Client) -> None:
    adapter = SmtpAdapter(api_key="smtp://mail.example.com:25",
                          base_url="smtp://mail.example.com:25", client=http_client)

    with pytest.raises(NotImplementedError, match="SMTP"):
        adapter.build_request(make_message())
    with pytest.raises(NotImplementedError, match="SMTP"):
        adapter.parse_success(httpx.Response(200))


def test_the_capabilities_are_rfc_5321s_100_recipients_and_the_default_size() -> None:
    assert SmtpAdapter.capabilities.max_recipients == 100
    assert SmtpAdapter.capabilities.max_bytes == 10 * 1024 * 1024


# -- the sandbox ------------------------------------------------------------------------------


@pytest.fixture
def sandbox_adapter(
    sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> SmtpAdapter:
    return SmtpAdapter(api_key=SANDBOX_KEYS["smtp"], base_url=sandbox.url, client=http_client)


def test_the_sandbox_advertises_its_smtp_fake(control: httpx.Client) -> None:
    answer = control.get("/_sandbox/smtp/server").json()

    assert answer["host"] == "127.0.0.1"
    assert isinstance(answer["port"], int) and answer["port"] > 0
    assert answer["starttls"] is True  # cryptography is installed with the test tools
    assert answer["certificate"].startswith("-----BEGIN CERTIFICATE-----")


def test_in_sandbox_mode_the_adapter_finds_the_fake_once_and_sends_there(
    sandbox_adapter: SmtpAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    first = sandbox_adapter.send(make_message())
    sandbox_adapter.send(make_message())

    assert [request.url.path for request in recorder.requests] == ["/_sandbox/smtp/server"]
    stored = control.get("/_sandbox/smtp/messages").json()
    assert [entry["messageId"] for entry in stored][:1] == [first.message_id]
    assert control.get("/_sandbox/smtp/stats").json() == {"accepted": 2, "rejected": 0}


def test_the_sandbox_fake_checks_its_key(
    sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> None:
    adapter = SmtpAdapter(api_key="not-the-key", base_url=sandbox.url, client=http_client)

    assert isinstance(failed(adapter), AuthError)


@pytest.mark.parametrize("status", [*sorted(FAULT_REPLIES), 418, 599])
def test_each_fault_status_is_answered_with_its_documented_reply(
    sandbox_adapter: SmtpAdapter, set_faults: FaultSetter, control: httpx.Client, status: int
) -> None:
    set_faults("smtp", failRate=1.0, status=status)
    step, code = fault_reply(status).step, int(fault_reply(status).reply[:3])

    error = failed(sandbox_adapter)

    assert type(error) is reply_class(Stage(step), code)
    assert error.reason.split(": ", 1)[1].startswith(str(code))
    assert control.get("/_sandbox/smtp/messages").json() == []


def test_the_default_fault_is_a_421_server_error(
    sandbox_adapter: SmtpAdapter, set_faults: FaultSetter
) -> None:
    set_faults("smtp", failRate=1.0)

    error = failed(sandbox_adapter)

    assert isinstance(error, ServerError)
    assert "421" in error.reason


# -- a scripted server ------------------------------------------------------------------------


EHLO_REPLY = b"250-scripted.example\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"


class ScriptedSmtp(socketserver.StreamRequestHandler):
    """Greets with ``greeting``, offers AUTH but no STARTTLS, records every line received."""

    greeting = b"220 scripted.example ESMTP\r\n"
    received: ClassVar[list[bytes]] = []

    def handle(self) -> None:
        self.wfile.write(self.greeting)
        for line in self.rfile:
            ScriptedSmtp.received.append(line)
            command = line.split(b" ", 1)[0].strip().upper()
            if command == b"EHLO":
                self.wfile.write(EHLO_REPLY)
            elif command == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@contextmanager
def scripted_server(greeting: str | None = None) -> Iterator[int]:
    ScriptedSmtp.received = []
    handler = type("Handler", (ScriptedSmtp,), {})
    if greeting is not None:
        handler.greeting = f"{greeting}\r\n".encode()
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler) as server:
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server.server_address[1]
        finally:
            server.shutdown()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_without_cryptography_the_sandbox_offers_no_starttls_and_the_adapter_still_sends(
    monkeypatch: pytest.MonkeyPatch, http_client: httpx.Client
) -> None:
    """The sandbox key is no secret: in sandbox mode only, the login may go in clear."""
    monkeypatch.setitem(sys.modules, "cryptography", None)  # `import cryptography` fails
    with SandboxThread(api_keys={"smtp": "plain-key"}) as sandbox:
        answer = httpx.get(f"{sandbox.url}/_sandbox/smtp/server").json()
        result = SmtpAdapter(api_key="plain-key", base_url=sandbox.url,
                             client=http_client).send(make_message())
        stored = httpx.get(f"{sandbox.url}/_sandbox/smtp/messages").json()

    assert (answer["starttls"], answer["certificate"]) == (False, None)
    assert [entry["messageId"] for entry in stored] == [result.message_id]
