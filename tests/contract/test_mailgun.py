"""MailgunAdapter against the fake Mailgun over real HTTP; its multipart form against the spec."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import HeaderParser
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator
from pydantic import SecretStr

from micromailer.config import SANDBOX_MAILGUN_DOMAIN, Settings
from micromailer.domain.message import Address, Attachment, Message
from micromailer.providers.errors import (
    AccountError,
    AuthError,
    ProviderError,
    RateLimitedError,
    RecipientRejectedError,
    RequestRejectedError,
    ServerError,
)
from micromailer.providers.mailgun import (
    MESSAGE_CLASSES,
    STATUS_CLASSES,
    MailgunAdapter,
    form_parts,
)
from micromailer.providers.registry import build_adapters, make_async_http_client
from micromailer.sandbox import SandboxThread
from tests.contract.helpers import (
    SANDBOX_KEYS,
    RequestRecorder,
    body_validator,
    failed_send,
    make_message,
    sandbox_messages,
    schema_errors,
    specs_dir,
    table_rows,
)

FaultSetter = Callable[..., dict[str, Any]]

MAILGUN_SPEC = "mailgun/openapi.yaml"
SEND_OPERATION = ("paths", "/v3/{domain_name}/messages", "post")
FORM_SCHEMA = "POST-v3-domain_name-messages-multipart-form-data-RequestBody"
#: The spec's example properties that stand for every ``h:<Header>`` and ``v:<variable>``.
PREFIX_PROPERTIES = {"h:": "h:X-My-Header", "v:": "v:my-var"}
DOMAIN = "mg.example.com"

PDF = b"%PDF-1.7\r\n\x00\xff\xfe binary \r\n--not-a-boundary\r\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


# -- fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture
def adapter(
    sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> MailgunAdapter:
    return MailgunAdapter(
        api_key=SANDBOX_KEYS["mailgun"], base_url=sandbox.url, client=http_client,
        options={"domain": DOMAIN},
    )


@pytest.fixture(scope="module")
def mailgun_spec() -> dict[str, Any]:
    text = (specs_dir() / MAILGUN_SPEC).read_text("utf-8")
    spec: dict[str, Any] = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return spec


@pytest.fixture(scope="module")
def form_schema(mailgun_spec: dict[str, Any]) -> dict[str, Any]:
    """The send operation's multipart request schema, found through the operation itself."""
    operation = mailgun_spec
    for key in SEND_OPERATION:
        operation = operation[key]
    ref = operation["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    assert ref == f"#/components/schemas/{FORM_SCHEMA}"
    schema: dict[str, Any] = mailgun_spec["components"]["schemas"][FORM_SCHEMA]
    return schema


@pytest.fixture(scope="module")
def form_validator(mailgun_spec: dict[str, Any]) -> Draft202012Validator:
    return body_validator(mailgun_spec, f"/components/schemas/{FORM_SCHEMA}")


@dataclass(frozen=True)
class Part:
    """One part of a multipart body."""

    value: bytes
    filename: str | None
    content_type: str | None

    @property
    def text(self) -> str:
        return self.value.decode("utf-8")


def decode_form(request: httpx.Request) -> dict[str, list[Part]]:
    """The request's multipart/form-data body as field → its parts, in order."""
    kind, _, params = request.headers["content-type"].partition(";")
    assert kind.strip() == "multipart/form-data"
    boundary = params.strip().removeprefix("boundary=").strip('"').encode()
    body = request.read()  # the multipart stream is made of bytes: it reads again
    assert body.endswith(b"--" + boundary + b"--\r\n")
    form: dict[str, list[Part]] = {}
    for chunk in body.split(b"--" + boundary)[1:-1]:
        assert chunk.startswith(b"\r\n") and chunk.endswith(b"\r\n")
        head, _, value = chunk[2:-2].partition(b"\r\n\r\n")
        headers = HeaderParser().parsestr(head.decode("utf-8"))
        name = headers.get_param("name", header="content-disposition")
        filename = headers.get_param("filename", header="content-disposition")
        assert isinstance(name, str)
        form.setdefault(name, []).append(
            Part(value, filename if isinstance(filename, str) else None,
                 headers.get("content-type"))
        )
    return form


def property_of(schema: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The schema property a form field falls under: its own, or the spec's ``h:``/``v:``
    example that stands for every custom header or variable."""
    properties: dict[str, Any] = schema["properties"]
    if name in properties:
        return dict(properties[name])
    for prefix, example in PREFIX_PROPERTIES.items():
        if name.startswith(prefix) and len(name) > len(prefix):
            return dict(properties[example])
    return None


def is_binary(prop: dict[str, Any]) -> bool:
    return prop.get("format") == "binary" or prop.get("items", {}).get("format") == "binary"


def form_problems(schema: dict[str, Any], form: dict[str, list[Part]]) -> list[str]:
    """What the spec's schema says against the decoded form, beyond JSON Schema: unknown
    names, text sent as files or files sent as text, a single-valued field repeated."""
    problems = []
    for name, parts in form.items():
        prop = property_of(schema, name)
        if prop is None:
            problems.append(f"{name}: not a field of the spec")
            continue
        files = [part.filename is not None for part in parts]
        if is_binary(prop) and not all(files):
            problems.append(f"{name}: must be sent as file parts")
        if not is_binary(prop) and any(files):
            problems.append(f"{name}: must be sent as text")
    return problems


def as_instance(schema: dict[str, Any], form: dict[str, list[Part]]) -> dict[str, Any]:
    """The decoded form as the JSON value the schema describes: an array field as a list, a
    single-valued field as its one value (repeated: a list, which the schema then refuses)."""
    instance: dict[str, Any] = {}
    for name, parts in form.items():
        prop = property_of(schema, name) or {}
        values = [part.value.decode("latin-1") if part.filename else part.text for part in parts]
        array = prop.get("type") == "array"
        instance[name] = values if array or len(values) > 1 else values[0]
    return instance


def captured(control: httpx.Client) -> list[dict[str, Any]]:
    return sandbox_messages(control, "mailgun")


def rich_message(**overrides: Any) -> Message:
    """A message with every field Mailgun can carry."""
    fields: dict[str, Any] = {
        "to": (Address("alice@example.com", "Alice Example"), Address("bob@example.com")),
        "cc": (Address("carol@example.com", "Carol, Accounts"),),
        "bcc": (Address("audit@example.org"),),
        "reply_to": (Address("help@example.org", "Help Desk"),),
        "html": '<p>Your receipt <img src="cid:logo-1"></p>',
        "attachments": (
            Attachment("receipt.pdf", "application/pdf", PDF),
            Attachment("logo.png", "image/png", PNG, content_id="logo-1"),
        ),
        "headers": (("X-Campaign", "spring"), ("List-Unsubscribe", "<mailto:u@example.org>")),
        "tags": ("receipts", "spring"),
        "metadata": (("order", "A-42"), ("customer", "7")),
    }
    fields.update(overrides)
    return make_message(**fields)


def answering(status: int, body: Any = None, headers: dict[str, str] | None = None,
              text: str | None = None) -> MailgunAdapter:
    """An adapter whose every call gets this one answer."""
    def answer(_: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    client = httpx.Client(transport=httpx.MockTransport(answer))
    return MailgunAdapter(api_key="k", base_url="https://api.mailgun.test", client=client,
                          options={"domain": DOMAIN})


# -- success ------------------------------------------------------------------------------


def test_send_returns_mailguns_id_and_the_fake_captures_the_message(
    adapter: MailgunAdapter, control: httpx.Client
) -> None:
    message = make_message()

    result = adapter.send(message)

    assert result.provider == "mailgun"
    assert result.message_id and result.message_id.startswith("<")
    assert result.message_id.endswith(f"@{DOMAIN}>")
    assert result.raw["message"] == "Queued. Thank you."
    [stored] = captured(control)
    assert stored["messageId"] == result.message_id
    assert (stored["to"], stored["toName"]) == (message.to[0].email, message.to[0].name)
    assert (stored["fromEmail"], stored["fromName"]) == (
        message.sender.email, message.sender.name
    )
    assert (stored["subject"], stored["html"], stored["text"]) == (
        message.subject, message.html, message.text
    )
    assert stored["metadata"] == {"email_id": message.email_id}
    assert control.get("/_sandbox/mailgun/stats").json() == {"accepted": 1, "rejected": 0}


def test_request_is_multipart_to_the_domains_path_with_basic_api_auth(
    adapter: MailgunAdapter, recorder: RequestRecorder
) -> None:
    adapter.send(make_message())

    request = recorder.last
    assert request.method == "POST"
    assert request.url.path == f"/v3/{DOMAIN}/messages"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    expected = base64.b64encode(f"api:{SANDBOX_KEYS['mailgun']}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert SANDBOX_KEYS["mailgun"].encode() not in request.read()


def test_the_region_setting_picks_the_eu_origin_and_the_domain_goes_in_the_path() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "<1@mg.example.eu>", "message": "Queued"})

    settings = Settings(
        _env_file=None, providers="mailgun",  # type: ignore[call-arg]
        mailgun_api_key=SecretStr("key"), mailgun_domain="mg.example.eu", mailgun_region="eu",
    )
    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        [adapter] = build_adapters(settings, client)
        adapter.send(make_message())

    assert str(seen[0].url) == "https://api.eu.mailgun.net/v3/mg.example.eu/messages"


def test_an_adapter_without_a_domain_sends_for_the_sandbox_domain(
    sandbox: SandboxThread, http_client: httpx.Client, recorder: RequestRecorder,
    control: httpx.Client,
) -> None:
    """As ``Settings.provider_options``: only the sandbox builds one without MAILGUN_DOMAIN."""
    adapter = MailgunAdapter(api_key=SANDBOX_KEYS["mailgun"], base_url=sandbox.url,
                             client=http_client)

    adapter.send(make_message())

    assert recorder.last.url.path == f"/v3/{SANDBOX_MAILGUN_DOMAIN}/messages"


def test_a_text_only_message_sends_no_html_field(
    adapter: MailgunAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    adapter.send(make_message(html=""))

    form = decode_form(recorder.last)
    assert "html" not in form and form["text"][0].text == "Thanks, Alice."
    assert captured(control)[0]["html"] is None


# -- the body against the spec --------------------------------------------------------------------


def test_the_form_validates_against_mailguns_openapi_schema(
    adapter: MailgunAdapter, recorder: RequestRecorder, form_schema: dict[str, Any],
    form_validator: Draft202012Validator,
) -> None:
    adapter.send(rich_message())

    form = decode_form(recorder.last)
    assert set(form_schema["required"]) <= set(form)
    assert form_problems(form_schema, form) == []
    assert schema_errors(form_validator, as_instance(form_schema, form)) == []


def test_schema_check_is_not_vacuous(
    form_schema: dict[str, Any], form_validator: Draft202012Validator
) -> None:
    """The same checks refuse a form without ``from``, with ``subject`` twice, a file sent as
    text, text sent as a file and a field the spec does not know."""
    request = httpx.Request("POST", "https://api.mailgun.test", files=[
        ("to", (None, b"a@example.com")),
        ("subject", (None, b"one")),
        ("subject", (None, b"two")),
        ("attachment", (None, b"not a file")),
        ("text", ("body.txt", b"a file", "text/plain")),
        ("x:unknown", (None, b"?")),
    ])
    form = decode_form(request)

    assert len(schema_errors(form_validator, as_instance(form_schema, form))) == 2
    assert len(form_problems(form_schema, form)) == 3


# -- what the message carries -------------------------------------------------------------------


def test_cc_and_bcc_travel_in_their_fields_and_never_as_headers(
    adapter: MailgunAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    adapter.send(rich_message())

    form = decode_form(recorder.last)
    assert [part.text for part in form["to"]] == ["Alice Example <alice@example.com>",
                                                  "bob@example.com"]
    assert [part.text for part in form["cc"]] == ['"Carol, Accounts" <carol@example.com>']
    assert [part.text for part in form["bcc"]] == ["audit@example.org"]
    assert not any(name.lower() in ("h:bcc", "h:cc", "h:to") for name in form)
    assert b"audit@example.org" not in b"".join(
        part.value for name, parts in form.items() if name.startswith("h:") for part in parts
    )
    stored = captured(control)
    assert [(m["to"], m["field"]) for m in stored] == [
        ("alice@example.com", "to"), ("bob@example.com", "to"),
        ("carol@example.com", "cc"), ("audit@example.org", "bcc"),
    ]
    assert stored[0]["cc"] == ['"Carol, Accounts" <carol@example.com>']
    assert stored[0]["bcc"] == ["audit@example.org"]
    assert len({m["messageId"] for m in stored}) == 1


def test_attachments_arrive_byte_for_byte_and_the_inline_image_by_its_content_id(
    adapter: MailgunAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    message = rich_message()
    adapter.send(message)

    form = decode_form(recorder.last)
    assert [(p.filename, p.content_type, p.value) for p in form["attachment"]] == [
        ("receipt.pdf", "application/pdf", PDF)
    ]
    assert [(p.filename, p.content_type, p.value) for p in form["inline"]] == [
        ("logo-1", "image/png", PNG)
    ]
    [first, *_] = captured(control)
    assert [(a["filename"], a["contentType"], a["contentId"], a["sha256"])
            for a in first["attachments"]] == [
        ("receipt.pdf", "application/pdf", None, hashlib.sha256(PDF).hexdigest()),
        ("logo-1", "image/png", "logo-1", hashlib.sha256(PNG).hexdigest()),
    ]
    assert 'src="cid:logo-1"' in first["html"]


def test_tags_metadata_reply_to_and_headers_are_passed(
    adapter: MailgunAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    message = rich_message()
    adapter.send(message)

    form = decode_form(recorder.last)
    assert [part.text for part in form["o:tag"]] == ["receipts", "spring"]
    assert form["v:email_id"][0].text == message.email_id
    assert (form["v:order"][0].text, form["v:customer"][0].text) == ("A-42", "7")
    assert form["h:Reply-To"][0].text == "Help Desk <help@example.org>"
    assert form["h:X-Campaign"][0].text == "spring"
    stored = captured(control)[0]
    assert stored["tags"] == ["receipts", "spring"]
    assert stored["metadata"] == {"order": "A-42", "customer": "7", "email_id": message.email_id}
    assert stored["replyTo"] == ["Help Desk <help@example.org>"]
    assert stored["headers"] == {"X-Campaign": "spring",
                                 "List-Unsubscribe": "<mailto:u@example.org>"}


def test_email_id_cannot_be_overridden_by_metadata() -> None:
    message = make_message(metadata=(("email_id", "forged"),))

    fields = [(name, value) for name, (_, value, _) in form_parts(message)]

    assert fields.count(("v:email_id", message.email_id.encode())) == 1
    assert ("v:email_id", b"forged") not in fields


def test_capabilities_follow_mailguns_documented_limits() -> None:
    capabilities = MailgunAdapter.capabilities
    many = tuple(Address(f"r{n}@example.com") for n in range(1001))

    assert capabilities.refusal(make_message(to=many)) is not None
    assert capabilities.refusal(make_message(to=many[:1000])) is None
    assert capabilities.max_bytes == 25 * 1000 * 1000  # decimal MB: the smaller reading
    assert capabilities.refusal(rich_message()) is None


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "expected"), table_rows(STATUS_CLASSES))
def test_each_status_of_the_table_raises_its_class(
    adapter: MailgunAdapter, set_faults: FaultSetter, status: int, expected: type[ProviderError]
) -> None:
    set_faults("mailgun", failRate=1.0, status=status)

    error = failed_send(adapter)

    assert type(error) is expected
    assert error.status_code == status


def test_the_table_covers_every_error_status_of_the_spec(mailgun_spec: dict[str, Any]) -> None:
    operation = mailgun_spec
    for key in SEND_OPERATION:
        operation = operation[key]
    documented = {int(code) for code in operation["responses"] if int(code) >= 400}

    assert documented == {400, 401, 429, 500}
    assert documented <= set(STATUS_CLASSES)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param("to parameter is not a valid address. please check documentation",
                     RecipientRejectedError, id="to-address"),
        pytest.param("'cc' parameter is not a valid address. please check documentation",
                     RecipientRejectedError, id="cc-address"),
        pytest.param("Sandbox subdomains are for test purposes only. Please add your own domain "
                     "or add the address to authorized recipients in Account Settings.",
                     AccountError, id="sandbox-domain"),
        pytest.param("from parameter is not a valid address. please check documentation",
                     RequestRejectedError, id="from-address"),
    ],
)
def test_a_400_is_classified_by_its_message(message: str, expected: type[ProviderError]) -> None:
    error = failed_send(answering(400, {"message": message}))

    assert type(error) is expected
    assert error.reason == message


def test_every_row_of_the_message_table_is_exercised() -> None:
    """The parametrised cases above reach each pattern of :data:`MESSAGE_CLASSES`."""
    samples = ["to parameter is not a valid address", "Sandbox subdomains are for test "
               "purposes only"]
    assert [any(p.search(s) for s in samples) for p, _ in MESSAGE_CLASSES] == [True, True]


def test_an_invalid_recipient_is_refused_by_the_fake_as_mailgun_does(
    adapter: MailgunAdapter, control: httpx.Client
) -> None:
    error = failed_send_of(adapter, make_message(to_email="not-an-address"))

    assert type(error) is RecipientRejectedError
    assert error.reason.startswith("to parameter is not a valid address")
    assert control.get("/_sandbox/mailgun/stats").json() == {"accepted": 0, "rejected": 1}


def test_a_missing_subject_is_a_rejected_request_with_mailguns_message(
    adapter: MailgunAdapter,
) -> None:
    error = failed_send_of(adapter, make_message(subject=""))

    assert type(error) is RequestRejectedError
    assert error.reason == "subject parameter is missing"


def test_an_unknown_domain_is_an_account_error_tried_again_later(
    sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> None:
    """Mailgun answers 404 for a domain it does not know, which may be one still propagating."""
    adapter = MailgunAdapter(api_key=SANDBOX_KEYS["mailgun"], base_url=sandbox.url,
                             client=http_client, options={"domain": "localhost"})

    error = failed_send(adapter, AccountError)

    assert error.status_code == 404
    assert error.transient
    assert error.reason == "Domain not found: localhost"


def test_429_waits_as_long_as_its_message_says(
    adapter: MailgunAdapter, set_faults: FaultSetter
) -> None:
    set_faults("mailgun", failRate=1.0, status=429, retryAfter=7)

    error = failed_send(adapter, RateLimitedError)

    assert error.retry_after == 7.0
    assert error.reason.endswith("limit exceeded, try again after 7 seconds")


def test_429_without_a_wait_in_its_message_reads_retry_after() -> None:
    adapter = answering(429, {"message": "limit exceeded"}, headers={"Retry-After": "3"})

    assert failed_send(adapter, RateLimitedError).retry_after == 3.0


def test_429_without_any_wait_leaves_it_unknown(
    adapter: MailgunAdapter, set_faults: FaultSetter
) -> None:
    set_faults("mailgun", failRate=1.0, status=429)

    assert failed_send(adapter, RateLimitedError).retry_after is None


def test_wrong_key_is_auth_error_and_the_key_stays_out_of_the_error(
    sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> None:
    adapter = MailgunAdapter(api_key="key-wrong-secret", base_url=sandbox.url,
                             client=http_client, options={"domain": DOMAIN})

    error = failed_send(adapter, AuthError)

    assert (error.status_code, error.reason) == (401, "Forbidden")
    assert "wrong-secret" not in str(error) + error.body + repr(adapter)
    assert control.get("/_sandbox/mailgun/stats").json() == {"accepted": 0, "rejected": 1}


def test_a_200_without_an_id_is_a_server_error() -> None:
    error = failed_send(answering(200, {"message": "Queued. Thank you."}), ServerError)

    assert "unreadable answer" in error.reason


def failed_send_of(adapter: MailgunAdapter, message: Message) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        adapter.send(message)
    return caught.value


def test_the_workers_client_carries_the_multipart_body_intact(
    sandbox: SandboxThread, control: httpx.Client
) -> None:
    """The worker sends through aiohttp, which must pass httpx's multipart stream unchanged."""
    async def send() -> str | None:
        client = make_async_http_client(Settings(_env_file=None))  # type: ignore[call-arg]
        try:
            adapter = MailgunAdapter(api_key=SANDBOX_KEYS["mailgun"], base_url=sandbox.url,
                                     client=client, options={"domain": DOMAIN})
            return (await adapter.send_async(rich_message())).message_id
        finally:
            await client.aclose()

    message_id = asyncio.run(send())

    stored = captured(control)
    assert [m["messageId"] for m in stored] == [message_id] * 4
    assert [a["sha256"] for a in stored[0]["attachments"]] == [
        hashlib.sha256(PDF).hexdigest(), hashlib.sha256(PNG).hexdigest()
    ]
