"""SesAdapter against the fake SES over real HTTP: SigV4, the body against service-2.json."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import httpx
import pytest
from botocore.credentials import Credentials
from botocore.model import ServiceModel, Shape
from botocore.validate import ParamValidator
from fastapi import FastAPI
from fastapi.testclient import TestClient

from micromailer.domain.message import Address, Attachment, Message
from micromailer.providers import ses as ses_module
from micromailer.providers.errors import (
    AccountError,
    AuthError,
    ProviderError,
    RateLimitedError,
    RecipientRejectedError,
    RequestRejectedError,
    ServerError,
)
from micromailer.providers.ses import (
    ERROR_TYPE_CLASSES,
    STATUS_CLASSES,
    SesAdapter,
    build_payload,
    email_tags,
    error_type_of,
)
from micromailer.sandbox import SandboxThread
from micromailer.sandbox.capture import ProviderState
from micromailer.sandbox.ses import BadRequest, make_router, validate_send_email
from tests.contract.helpers import (
    SANDBOX_KEYS,
    RequestRecorder,
    failed_send,
    load_spec,
    make_message,
    sandbox_messages,
    table_rows,
)

FaultSetter = Callable[..., dict[str, Any]]
SES_SPEC = "ses/service-2.json"
REGION = "eu-west-1"
SECRET = SANDBOX_KEYS["ses"]
#: Every byte value, twice: a file that survives only a byte-exact round trip.
BINARY = bytes(range(256)) * 2


@pytest.fixture(scope="session")
def ses_model() -> ServiceModel:
    """SES v2's botocore model, from the spec file saved beside CONTRACTS.md."""
    return ServiceModel(load_spec(SES_SPEC), service_name="sesv2")


@pytest.fixture(scope="session")
def send_email_shape(ses_model: ServiceModel) -> Shape:
    shape = ses_model.operation_model("SendEmail").input_shape
    assert shape is not None
    return shape


@pytest.fixture
def adapter(sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client) -> SesAdapter:
    return SesAdapter(api_key=SECRET, base_url=sandbox.url, client=http_client,
                      options={"region": REGION})


def captured(control: httpx.Client) -> list[dict[str, Any]]:
    return sandbox_messages(control, "ses")


def spec_errors(shape: Shape, body: Any) -> str:
    """botocore's report of ``body`` against the ``SendEmailRequest`` shape ("" when valid)."""
    report = ParamValidator().validate(body, shape)
    return report.generate_report() if report.has_errors() else ""


def rich_message(**overrides: Any) -> Message:
    fields: dict[str, Any] = {
        "cc": (Address("carol@example.com", "Carol Cé"),),
        "bcc": (Address("hidden@example.net"),),
        "reply_to": (Address("help@example.org", "Help desk"),),
        "attachments": (
            Attachment("report.pdf", "application/pdf", BINARY),
            Attachment("logo.png", "image/png", b"\x89PNG\r\n\x1a\n" + BINARY, "logo-1"),
        ),
        "html": '<p>Hi <img src="cid:logo-1"></p>',
        "headers": (("X-Campaign", "spring"),),
        "tags": ("welcome",),
        "metadata": (("user", "42"),),
    }
    fields.update(overrides)
    return make_message(**fields)


def raw_mime(body: dict[str, Any]) -> EmailMessage:
    data = base64.b64decode(body["Content"]["Raw"]["Data"])
    message: EmailMessage = message_from_bytes(data, policy=default_policy)  # type: ignore[assignment]
    return message


# -- success ------------------------------------------------------------------------------


def test_send_returns_the_message_id_and_the_fake_captures_the_message(
    adapter: SesAdapter, control: httpx.Client
) -> None:
    message = make_message()

    result = adapter.send(message)

    assert result.provider == "ses"
    assert result.message_id and result.message_id.endswith("-000000")
    [stored] = captured(control)
    assert stored["messageId"] == result.message_id
    assert (stored["to"], stored["toName"]) == (message.to[0].email, message.to[0].name)
    assert (stored["fromEmail"], stored["fromName"]) == (message.sender.email, message.sender.name)
    assert (stored["subject"], stored["html"], stored["text"]) == (
        message.subject, message.html, message.text
    )
    assert stored["metadata"] == {"email_id": message.email_id}
    assert control.get("/_sandbox/ses/stats").json() == {"accepted": 1, "rejected": 0}


def test_request_is_sigv4_signed_for_ses_in_the_adapters_region(
    adapter: SesAdapter, recorder: RequestRecorder
) -> None:
    adapter.send(make_message())

    request = recorder.last
    assert (request.method, request.url.path) == ("POST", "/v2/email/outbound-emails")
    assert request.headers["content-type"] == "application/json"
    day = request.headers["x-amz-date"][:8]
    scheme, _, fields = request.headers["authorization"].partition(" ")
    parts = dict(part.strip().split("=", 1) for part in fields.split(","))
    assert scheme == "AWS4-HMAC-SHA256"
    assert parts["Credential"] == f"sandbox/{day}/{REGION}/ses/aws4_request"
    assert parts["SignedHeaders"] == "content-type;host;x-amz-date"
    assert len(parts["Signature"]) == 64
    assert SECRET not in str(request.headers) and SECRET.encode() not in request.content


def test_each_request_is_signed_afresh_with_its_own_date(
    adapter: SesAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The date header is part of the signature: a request built later carries a new one."""
    moments = iter([datetime(2026, 1, 2, 3, 4, 5), datetime(2026, 1, 2, 3, 9, 5)])
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: next(moments))
    message = make_message()

    first, second = adapter.build_request(message), adapter.build_request(message)

    assert first.headers["x-amz-date"] == "20260102T030405Z"
    assert second.headers["x-amz-date"] == "20260102T030905Z"
    assert first.headers["authorization"] != second.headers["authorization"]


# -- the fake checks the signature ----------------------------------------------------------


def resend(sandbox: SandboxThread, request: httpx.Request, *, content: bytes | None = None,
           **headers: str) -> httpx.Response:
    """``request`` sent again as recorded, with its body or some headers replaced."""
    merged = {**dict(request.headers), **{k.replace("_", "-"): v for k, v in headers.items()}}
    merged.pop("content-length", None)
    body = request.content if content is None else content
    return httpx.post(f"{sandbox.url}{request.url.path}", content=body, headers=merged)


def test_the_recorded_request_itself_passes_the_fakes_check(
    adapter: SesAdapter, recorder: RequestRecorder, sandbox: SandboxThread
) -> None:
    """The control case for the forgeries below: replaying it unchanged is accepted."""
    adapter.send(make_message())

    assert resend(sandbox, recorder.last).status_code == 200


def test_a_forged_signature_is_refused(
    adapter: SesAdapter, recorder: RequestRecorder, sandbox: SandboxThread,
    control: httpx.Client,
) -> None:
    adapter.send(make_message())
    signed = recorder.last.headers["authorization"]
    forged = signed[: -64] + "0" * 64

    response = resend(sandbox, recorder.last, authorization=forged)

    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"] == "InvalidSignatureException"
    assert "does not match" in response.json()["message"]
    assert control.get("/_sandbox/ses/stats").json() == {"accepted": 1, "rejected": 1}


def test_a_body_changed_after_signing_is_refused(
    adapter: SesAdapter, recorder: RequestRecorder, sandbox: SandboxThread
) -> None:
    adapter.send(make_message())
    body = json.loads(recorder.last.content)
    body["Destination"]["ToAddresses"] = ["mallory@example.com"]

    response = resend(sandbox, recorder.last, content=json.dumps(body).encode())

    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"] == "InvalidSignatureException"


@pytest.mark.parametrize(
    ("change", "error_type"),
    [
        ({"authorization": ""}, "MissingAuthenticationTokenException"),
        ({"authorization": "AWS4-HMAC-SHA256 Credential=x"}, "IncompleteSignatureException"),
        ({"x_amz_date": "20200101T000000Z"}, "InvalidSignatureException"),
    ],
    ids=["missing", "malformed", "stale-date"],
)
def test_a_missing_malformed_or_stale_signature_is_refused(
    adapter: SesAdapter, recorder: RequestRecorder, sandbox: SandboxThread,
    change: dict[str, str], error_type: str,
) -> None:
    adapter.send(make_message())

    response = resend(sandbox, recorder.last, **change)

    assert (response.status_code, response.headers["x-amzn-errortype"]) == (403, error_type)


def test_an_unknown_access_key_is_refused_as_aws_does(
    adapter: SesAdapter, recorder: RequestRecorder, sandbox: SandboxThread
) -> None:
    adapter.send(make_message())
    signed = recorder.last.headers["authorization"]
    other = signed.replace("Credential=sandbox/", "Credential=AKIA1/")

    response = resend(sandbox, recorder.last, authorization=other)

    assert response.headers["x-amzn-errortype"] == "UnrecognizedClientException"


def test_wrong_secret_is_auth_error_and_the_secret_stays_out_of_the_error(
    sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> None:
    adapter = SesAdapter(api_key="wrong-secret", base_url=sandbox.url, client=http_client,
                         options={"region": REGION})

    error = failed_send(adapter, AuthError)

    assert error.status_code == 403
    assert error.reason.startswith("InvalidSignatureException: ")
    assert "wrong-secret" not in str(error) + error.body + repr(adapter)
    assert control.get("/_sandbox/ses/stats").json() == {"accepted": 0, "rejected": 1}


# -- credentials from botocore's chain ------------------------------------------------------


class FakeSession:
    """Stands in for ``botocore.session.get_session()``; counts credential look-ups."""

    def __init__(self, credentials: Any) -> None:
        self.credentials = credentials
        self.lookups = 0

    def get_credentials(self) -> Any:
        self.lookups += 1
        return self.credentials


def test_without_a_key_the_chain_is_asked_once_and_its_token_is_signed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = FakeSession(Credentials("AKIDEXAMPLE", "chain-secret", "session-token"))
    monkeypatch.setattr(ses_module, "get_session", lambda: session)
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"MessageId": "m-1"})

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        adapter = SesAdapter(api_key="", base_url="https://email.eu-west-1.amazonaws.com",
                             client=client, options={"region": REGION})
        adapter.send(make_message())
        adapter.send(make_message())

    assert session.lookups == 1
    assert "Credential=AKIDEXAMPLE/" in seen[0].headers["authorization"]
    assert seen[1].headers["x-amz-security-token"] == "session-token"
    assert "x-amz-security-token" in seen[1].headers["authorization"]


def test_no_credentials_in_the_chain_is_an_auth_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ses_module, "get_session", lambda: FakeSession(None))
    with httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(200))) as client:
        adapter = SesAdapter(api_key="", base_url="https://ses.test", client=client)

        with pytest.raises(AuthError, match="found no AWS credentials"):
            adapter.send(make_message())


# -- the body against the spec -----------------------------------------------------------------


@pytest.mark.parametrize("message", [make_message(), rich_message()], ids=["simple", "raw"])
def test_request_body_validates_against_the_send_email_shape_of_service_2(
    adapter: SesAdapter, recorder: RequestRecorder, send_email_shape: Shape, message: Message
) -> None:
    adapter.send(message)

    assert spec_errors(send_email_shape, recorder.last_json()) == ""


def test_schema_check_is_not_vacuous(send_email_shape: Shape) -> None:
    """The same validator refuses a body without Content, with a string for a list, and with
    a field the model does not have."""
    body = build_payload(make_message())
    del body["Content"]
    body["Destination"]["ToAddresses"] = "alice@example.com"
    body["Urgency"] = "high"

    report = spec_errors(send_email_shape, body)

    assert "Missing required parameter" in report and "Content" in report
    assert "Invalid type for parameter Destination.ToAddresses" in report
    assert 'Unknown parameter in input: "Urgency"' in report


def test_the_fake_takes_the_spec_when_given_and_its_own_check_without(
    send_email_shape: Shape,
) -> None:
    good = build_payload(rich_message())
    unknown_field = {**good, "Urgency": "high"}
    no_content = {key: value for key, value in good.items() if key != "Content"}

    assert validate_send_email(good, send_email_shape) is good
    with pytest.raises(BadRequest, match="Unknown parameter"):
        validate_send_email(unknown_field, send_email_shape)
    assert validate_send_email(unknown_field) is unknown_field  # SES ignores unknown members
    with pytest.raises(BadRequest, match="Content must hold"):
        validate_send_email(no_content)


def test_the_fake_built_with_the_spec_accepts_the_adapter_and_refuses_an_unknown_member(
    send_email_shape: Shape, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fake's routes with the spec's shape, served in-process: a signed body with a member
    the model lacks is SES's 400, read as a rejected request."""
    state = ProviderState(name="ses", api_key=SECRET, rng=random.Random(1))
    app = FastAPI()
    app.include_router(make_router(state, send_email_shape))
    with TestClient(app) as client:
        adapter = SesAdapter(api_key=SECRET, base_url="http://testserver", client=client,
                             options={"region": REGION})
        assert adapter.send(rich_message()).message_id
        monkeypatch.setattr(ses_module, "build_payload",
                            lambda message: {**build_payload(message), "Urgency": "high"})

        with pytest.raises(RequestRejectedError, match='Unknown parameter in input: "Urgency"'):
            adapter.send(make_message())
    assert state.capture.stats() == {"accepted": 3, "rejected": 1}


def test_an_invalid_body_is_bad_request_exception(adapter: SesAdapter) -> None:
    with pytest.raises(RequestRejectedError) as caught:
        adapter.send(make_message(to=(Address("not an address"),)))

    assert caught.value.reason.startswith("BadRequestException: Illegal address")
    assert caught.value.status_code == 400


# -- what the body carries --------------------------------------------------------------------


def test_a_message_without_attachments_is_simple_content(
    adapter: SesAdapter, recorder: RequestRecorder
) -> None:
    message = rich_message(attachments=())
    adapter.send(message)

    body = recorder.last_json()
    simple = body["Content"]["Simple"]
    assert simple["Subject"] == {"Data": message.subject, "Charset": "UTF-8"}
    assert simple["Body"]["Html"]["Data"] == message.html
    assert simple["Body"]["Text"]["Data"] == message.text
    assert simple["Headers"] == [{"Name": "X-Campaign", "Value": "spring"}]
    assert body["FromEmailAddress"] == "Example Billing <billing@example.org>"


def test_more_headers_than_simple_takes_go_as_raw_mime(
    adapter: SesAdapter, recorder: RequestRecorder, send_email_shape: Shape,
    control: httpx.Client,
) -> None:
    """Simple takes 15 headers (the intake allows 30): the 16th moves the message to Raw."""
    headers = tuple((f"X-Extra-{i}", f"v{i}") for i in range(16))
    adapter.send(make_message(headers=headers))

    body = recorder.last_json()
    assert "Raw" in body["Content"]
    assert raw_mime(body)["X-Extra-15"] == "v15"
    assert captured(control)[0]["headers"]["X-Extra-15"] == "v15"
    assert spec_errors(send_email_shape, body) == ""


def test_cc_and_bcc_go_in_destination_and_bcc_in_no_header(
    adapter: SesAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    adapter.send(rich_message(attachments=()))

    body = recorder.last_json()
    assert body["Destination"] == {
        "ToAddresses": ["Alice Example <alice@example.com>"],
        "CcAddresses": [Address("carol@example.com", "Carol Cé").formatted()],
        "BccAddresses": ["hidden@example.net"],
    }
    assert all(h["Name"].lower() != "bcc" for h in body["Content"]["Simple"]["Headers"])
    assert [(m["to"], m["field"]) for m in captured(control)] == [
        ("alice@example.com", "to"), ("carol@example.com", "cc"), ("hidden@example.net", "bcc"),
    ]
    assert captured(control)[1]["toName"] == "Carol Cé"


def test_with_attachments_the_raw_mime_has_no_bcc_header(
    adapter: SesAdapter, recorder: RequestRecorder
) -> None:
    adapter.send(rich_message())

    body = recorder.last_json()
    mime = raw_mime(body)
    assert "Simple" not in body["Content"]
    assert mime["Bcc"] is None
    assert b"hidden@example.net" not in base64.b64decode(body["Content"]["Raw"]["Data"])
    assert body["Destination"]["BccAddresses"] == ["hidden@example.net"]
    assert mime["Cc"] == "Carol Cé <carol@example.com>"
    assert mime["X-Campaign"] == "spring"


def test_attachments_and_the_inline_image_arrive_byte_for_byte(
    adapter: SesAdapter, control: httpx.Client
) -> None:
    message = rich_message()
    adapter.send(message)

    stored = captured(control)[0]
    by_name = {item["filename"]: item for item in stored["attachments"]}
    for attachment in message.attachments:
        got = by_name[attachment.filename]
        assert got["sha256"] == hashlib.sha256(attachment.content).hexdigest()
        assert base64.b64decode(got["content"]) == attachment.content
        assert got["contentType"] == attachment.content_type
        assert got["contentId"] == attachment.content_id
    assert stored["html"].strip() == message.html
    assert stored["text"].strip() == message.text


def test_the_inline_image_is_related_to_the_html_part(
    adapter: SesAdapter, recorder: RequestRecorder
) -> None:
    adapter.send(rich_message())

    mime = raw_mime(recorder.last_json())
    related = next(part for part in mime.walk() if part.get_content_type() == "multipart/related")
    image = next(part for part in related.iter_parts() if part.get_content_maintype() == "image")
    assert image["Content-ID"] == "<logo-1>"


def test_reply_to_tags_and_metadata_are_passed(
    adapter: SesAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    message = rich_message(attachments=())
    adapter.send(message)

    body = recorder.last_json()
    assert body["ReplyToAddresses"] == ["Help desk <help@example.org>"]
    assert body["EmailTags"] == [
        {"Name": "email_id", "Value": message.email_id},
        {"Name": "user", "Value": "42"},
        {"Name": "welcome", "Value": "true"},
    ]
    stored = captured(control)[0]
    assert stored["replyTo"] == ["Help desk <help@example.org>"]
    assert stored["metadata"] == {"email_id": message.email_id, "user": "42", "welcome": "true"}


def test_tags_are_sanitised_to_ses_characters_and_email_id_cannot_be_overridden() -> None:
    message = make_message(tags=("spring sale", "a" * 300), metadata=(
        ("email_id", "forged"), ("plan/tier", "gold+"), ("plan_tier", "second")))

    tags = email_tags(message)

    assert tags == [
        {"Name": "email_id", "Value": message.email_id},
        {"Name": "plan_tier", "Value": "gold_"},
        {"Name": "spring_sale", "Value": "true"},
        {"Name": "a" * 256, "Value": "true"},
    ]


# -- errors -------------------------------------------------------------------------------------


def answering(status: int, body: Any = None, headers: dict[str, str] | None = None) -> SesAdapter:
    """An adapter whose every call gets this answer (errors the fake cannot be asked for)."""
    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body, headers=headers)

    client = httpx.Client(transport=httpx.MockTransport(answer))
    return SesAdapter(api_key="k", base_url="https://email.eu-west-1.amazonaws.com",
                      client=client, options={"region": REGION})


@pytest.mark.parametrize(("error_type", "expected"), table_rows(ERROR_TYPE_CLASSES))
def test_each_error_type_of_the_table_raises_its_class(
    error_type: str, expected: type[ProviderError]
) -> None:
    status = 429 if expected is RateLimitedError else 500 if expected is ServerError else 400
    adapter = answering(status, {"message": "m"}, {"x-amzn-ErrorType": f"{error_type}:http://x/"})

    with pytest.raises(expected) as caught:
        adapter.send(make_message())

    assert type(caught.value) is expected
    assert caught.value.reason == f"{error_type}: m"


def test_the_error_type_is_read_from_the_body_when_the_header_is_absent() -> None:
    body = {"__type": "com.amazonaws.sesv2#AccountSuspendedException", "message": "suspended"}

    with pytest.raises(AccountError):
        answering(400, body).send(make_message())
    assert error_type_of(httpx.Response(400, json={"code": "MessageRejected"})) == "MessageRejected"


def test_the_tables_cover_every_error_send_email_lists_in_service_2() -> None:
    spec = load_spec(SES_SPEC)
    listed = [error["shape"] for error in spec["operations"]["SendEmail"]["errors"]]
    statuses = {spec["shapes"][name]["error"]["httpStatusCode"] for name in listed}

    assert set(listed) <= set(ERROR_TYPE_CLASSES)
    assert statuses <= set(STATUS_CLASSES)


@pytest.mark.parametrize(("status", "expected"), table_rows(STATUS_CLASSES))
def test_each_status_of_the_table_raises_its_class(
    adapter: SesAdapter, set_faults: FaultSetter, status: int, expected: type[ProviderError]
) -> None:
    set_faults("ses", failRate=1.0, status=status)

    error = failed_send(adapter)

    assert type(error) is expected
    assert error.status_code == status


@pytest.mark.parametrize(("status", "expected"), [(418, RequestRejectedError), (502, ServerError)])
def test_an_answer_without_an_error_type_takes_its_status_meaning(
    status: int, expected: type[ProviderError]
) -> None:
    with pytest.raises(expected):
        answering(status, {"message": "?"}).send(make_message())


def test_429_is_rate_limited_with_retry_after_when_one_is_sent(
    adapter: SesAdapter, set_faults: FaultSetter
) -> None:
    set_faults("ses", failRate=1.0, status=429, retryAfter=7)

    error = failed_send(adapter, RateLimitedError)

    assert error.retry_after == 7.0
    assert error.reason == "TooManyRequestsException: Too many requests"


def test_429_without_retry_after_leaves_it_unknown(
    adapter: SesAdapter, set_faults: FaultSetter
) -> None:
    """SES documents no rate-limit headers: the wait is usually unknown."""
    set_faults("ses", failRate=1.0, status=429)

    assert failed_send(adapter, RateLimitedError).retry_after is None


def test_a_suppressed_recipient_is_refused_and_other_rejections_are_about_the_message() -> None:
    suppressed = {"x-amzn-ErrorType": "MessageRejected"}

    with pytest.raises(RecipientRejectedError, match="Address blacklisted"):
        answering(400, {"message": "Address blacklisted."}, suppressed).send(make_message())
    with pytest.raises(RequestRejectedError) as caught:
        answering(400, {"message": "Email address is not verified."}, suppressed).send(
            make_message()
        )
    assert not isinstance(caught.value, RecipientRejectedError)


# -- capabilities ------------------------------------------------------------------------------


def test_capabilities_follow_ses_quotas() -> None:
    capabilities = SesAdapter.capabilities
    fifty = tuple(Address(f"r{i}@example.com") for i in range(50))

    assert capabilities.refusal(make_message(to=fifty)) is None
    assert "at most 50" in (capabilities.refusal(make_message(
        to=fifty, bcc=(Address("one-more@example.com"),))) or "")
    assert capabilities.refusal(make_message(
        attachments=(Attachment("setup.exe", "application/octet-stream", b"MZ"),))) is not None


def test_the_fake_refuses_more_than_fifty_recipients(adapter: SesAdapter) -> None:
    many = tuple(Address(f"r{i}@example.com") for i in range(51))

    with pytest.raises(RequestRejectedError, match="Recipient count exceeds 50"):
        adapter.send(make_message(to=many))


def test_a_signature_ten_minutes_old_is_still_accepted(
    adapter: SesAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A signature dated within AWS's 15 minutes of skew is still accepted."""
    earlier = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=10)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: earlier)

    assert adapter.send(make_message()).message_id
