"""BrevoAdapter against the fake Brevo over real HTTP; its body against Brevo's Swagger spec."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft4Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4

from micromailer.domain.message import Address, Attachment, Message
from micromailer.providers.brevo import (
    CODE_CLASSES,
    STATUS_CLASSES,
    BrevoAdapter,
    build_payload,
)
from micromailer.providers.errors import (
    AccountError,
    AuthError,
    ProviderError,
    RateLimitedError,
    RecipientRejectedError,
    RequestRejectedError,
)
from micromailer.sandbox import SandboxThread
from micromailer.sandbox.brevo import ALLOWED_EXTENSIONS
from tests.contract.helpers import (
    SANDBOX_KEYS,
    RequestRecorder,
    failed_send,
    make_message,
    sandbox_messages,
    sandbox_stats,
    specs_dir,
    table_rows,
)

FaultSetter = Callable[..., dict[str, Any]]

BREVO_SPEC = "brevo/swagger.yaml"
#: A PDF-like file with every byte value, so that any re-encoding would show.
INVOICE = bytes(range(256)) * 5


@pytest.fixture(scope="module")
def brevo_spec() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((specs_dir() / BREVO_SPEC).read_text("utf-8"))
    return spec


@pytest.fixture(scope="module")
def body_schema(brevo_spec: dict[str, Any]) -> Draft4Validator:
    """``#/definitions/sendSmtpEmail`` of the Swagger 2.0 file (JSON Schema draft 4)."""
    uri = "urn:micromailer:brevo-spec"
    registry: Registry[Any] = Registry().with_resource(uri, DRAFT4.create_resource(brevo_spec))
    return Draft4Validator(
        {"$ref": f"{uri}#/definitions/sendSmtpEmail"},
        registry=registry,
        format_checker=Draft4Validator.FORMAT_CHECKER,
    )


def errors_of(validator: Draft4Validator, instance: Any) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in validator.iter_errors(instance)
    ]


@pytest.fixture
def adapter(
    sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> BrevoAdapter:
    return BrevoAdapter(api_key=SANDBOX_KEYS["brevo"], base_url=sandbox.url, client=http_client)


def captured(control: httpx.Client) -> list[dict[str, Any]]:
    return sandbox_messages(control, "brevo")


def stats(control: httpx.Client) -> dict[str, int]:
    return sandbox_stats(control, "brevo")


def rich_message(**overrides: Any) -> Message:
    """A message using every field Brevo can carry."""
    fields: dict[str, Any] = {
        "cc": (Address("carol@example.com", "Carol"),),
        "bcc": (Address("audit@example.org"),),
        "reply_to": (Address("help@example.org", "Help desk"), Address("second@example.org")),
        "attachments": (Attachment("invoice.pdf", "application/pdf", INVOICE),),
        "headers": (("X-Campaign-Ref", "spring-24"), ("Message-ID", "<x@example.org>")),
        "tags": ("receipt", "billing"),
        "metadata": (("order", "42"), ("customer", "c-7")),
    }
    fields.update(overrides)
    return make_message(**fields)


def answering(status: int, body: Any, headers: dict[str, str] | None = None) -> BrevoAdapter:
    """An adapter whose every call gets this answer."""
    client = httpx.Client(transport=httpx.MockTransport(
        lambda _: httpx.Response(status, json=body, headers=headers)
    ))
    return BrevoAdapter(api_key="k", base_url="https://api.brevo.test", client=client)


# -- success ------------------------------------------------------------------------------


def test_send_returns_the_message_id_and_the_fake_captures_the_message(
    adapter: BrevoAdapter, control: httpx.Client
) -> None:
    message = make_message()

    result = adapter.send(message)

    assert result.provider == "brevo"
    assert result.message_id is not None
    assert re.fullmatch(r"<\d{14}\.\d+@smtp-relay\.mailin\.fr>", result.message_id)
    [stored] = captured(control)
    assert stored["messageId"] == result.message_id
    assert (stored["to"], stored["toName"]) == (message.to[0].email, message.to[0].name)
    assert (stored["fromEmail"], stored["fromName"]) == (message.sender.email, message.sender.name)
    assert (stored["subject"], stored["html"], stored["text"]) == (
        message.subject, message.html, message.text
    )
    assert stored["metadata"] == {"email_id": message.email_id}
    assert stats(control) == {"accepted": 1, "rejected": 0}


def test_request_carries_the_key_in_the_api_key_header_only(
    adapter: BrevoAdapter, recorder: RequestRecorder
) -> None:
    adapter.send(make_message())

    request = recorder.last
    assert (request.method, request.url.path) == ("POST", "/v3/smtp/email")
    assert request.headers["api-key"] == SANDBOX_KEYS["brevo"]
    assert "authorization" not in request.headers
    assert request.headers["content-type"] == "application/json"
    assert SANDBOX_KEYS["brevo"].encode() not in request.content


def test_request_body_validates_against_brevos_swagger_schema(
    adapter: BrevoAdapter, recorder: RequestRecorder, body_schema: Draft4Validator
) -> None:
    adapter.send(rich_message())

    assert errors_of(body_schema, recorder.last_json()) == []


def test_schema_check_is_not_vacuous(body_schema: Draft4Validator) -> None:
    """The same validator refuses a recipient without an address and content not in base64."""
    body = build_payload(rich_message())
    body["to"] = [{"name": "no address"}]
    body["attachment"][0]["content"] = "not base64!"

    assert len(errors_of(body_schema, body)) == 2


def test_allowed_extensions_are_the_spec_list_in_the_adapter_and_the_fake(
    brevo_spec: dict[str, Any],
) -> None:
    description = brevo_spec["definitions"]["sendSmtpEmail"]["properties"]["attachment"][
        "description"
    ]
    listed = re.search(r"Allowed extensions for attachment file: (.*?) \(", description)
    assert listed is not None
    documented = set(re.split(r",\s*|\s+and\s+", listed.group(1)))

    assert BrevoAdapter.capabilities.allowed_extensions == documented
    assert documented == ALLOWED_EXTENSIONS


def test_a_text_only_message_sends_text_content_alone(
    adapter: BrevoAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    adapter.send(make_message(html=""))

    body = recorder.last_json()
    assert "htmlContent" not in body
    assert body["textContent"] == "Thanks, Alice."
    assert captured(control)[0]["html"] is None


# -- what the message carries ------------------------------------------------------------------


def test_cc_and_bcc_travel_in_their_fields_and_each_recipient_is_captured(
    adapter: BrevoAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    adapter.send(rich_message())

    body = recorder.last_json()
    assert body["cc"] == [{"email": "carol@example.com", "name": "Carol"}]
    assert body["bcc"] == [{"email": "audit@example.org"}]
    assert "audit@example.org" not in json.dumps(body["headers"])
    stored = captured(control)
    assert [(m["to"], m["field"]) for m in stored] == [
        ("alice@example.com", "to"), ("carol@example.com", "cc"), ("audit@example.org", "bcc")
    ]
    assert stored[0]["cc"] == ["Carol <carol@example.com>"]
    assert stored[0]["bcc"] == ["audit@example.org"]
    assert stats(control) == {"accepted": 3, "rejected": 0}


def test_attachments_arrive_byte_for_byte(
    adapter: BrevoAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    adapter.send(rich_message())

    assert recorder.last_json()["attachment"][0]["name"] == "invoice.pdf"
    [attachment] = captured(control)[0]["attachments"]
    assert attachment["filename"] == "invoice.pdf"
    assert attachment["size"] == len(INVOICE)
    assert attachment["sha256"] == hashlib.sha256(INVOICE).hexdigest()


def test_inline_images_are_not_offered_brevo_has_no_content_ids() -> None:
    logo = Attachment("logo.png", "image/png", b"\x89PNG", content_id="logo")

    refusal = BrevoAdapter.capabilities.refusal(make_message(attachments=(logo,)))

    assert refusal == "cannot send inline images"


def test_an_extension_brevo_does_not_list_is_refused_by_capabilities_and_by_the_fake(
    adapter: BrevoAdapter,
) -> None:
    script = make_message(attachments=(Attachment("run.exe", "application/octet-stream", b"MZ"),))

    assert BrevoAdapter.capabilities.refusal(script) == "refuses attachments such as 'run.exe'"
    with pytest.raises(RequestRejectedError, match="extension is not allowed"):
        adapter.send(script)


def test_email_id_and_metadata_travel_in_x_mailin_custom_and_tags_in_tags(
    adapter: BrevoAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    message = rich_message()
    adapter.send(message)

    body = recorder.last_json()
    assert json.loads(body["headers"]["X-Mailin-custom"]) == {
        "order": "42", "customer": "c-7", "email_id": message.email_id
    }
    assert body["tags"] == ["receipt", "billing"]
    stored = captured(control)[0]
    assert stored["metadata"] == {"order": "42", "customer": "c-7", "email_id": message.email_id}
    assert stored["tags"] == ["receipt", "billing"]


def test_metadata_cannot_replace_the_email_id_and_stays_ascii() -> None:
    message = make_message(metadata=(("email_id", "forged"), ("city", "Zürich")))

    header = build_payload(message)["headers"]["X-Mailin-custom"]

    assert header.isascii()
    assert json.loads(header) == {"email_id": message.email_id, "city": "Zürich"}


def test_custom_headers_pass_and_standard_ones_stay_out(
    adapter: BrevoAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    adapter.send(rich_message(headers=(
        ("x-campaign-ref", "spring-24"), ("Message-ID", "<x@example.org>"),
        ("X-Mailin-custom", "forged"),
    )))

    headers = recorder.last_json()["headers"]
    assert set(headers) == {"x-campaign-ref", "X-Mailin-custom"}
    assert headers["X-Mailin-custom"] != "forged"
    assert captured(control)[0]["headers"] == {"X-Campaign-Ref": "spring-24"}


def test_only_the_first_reply_to_is_sent(
    adapter: BrevoAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    adapter.send(rich_message())

    assert recorder.last_json()["replyTo"] == {"email": "help@example.org", "name": "Help desk"}
    assert captured(control)[0]["replyTo"] == ["Help desk <help@example.org>"]


def test_names_are_cut_to_brevos_70_characters() -> None:
    body = build_payload(make_message(to_name="N" * 90))

    assert body["to"] == [{"email": "alice@example.com", "name": "N" * 70}]


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "expected"), table_rows(STATUS_CLASSES))
def test_each_status_of_the_table_raises_its_class(
    adapter: BrevoAdapter, set_faults: FaultSetter, status: int, expected: type[ProviderError]
) -> None:
    """The fake answers each status with the ``code`` Brevo gives it, where it has one."""
    set_faults("brevo", failRate=1.0, status=status)

    error = failed_send(adapter)

    assert type(error) is expected
    assert error.status_code == status


@pytest.mark.parametrize(("code", "expected"), table_rows(CODE_CLASSES))
def test_each_code_of_the_table_raises_its_class_whatever_the_status(
    code: str, expected: type[ProviderError]
) -> None:
    with pytest.raises(ProviderError) as caught:
        answering(400, {"code": code, "message": "it went wrong"}).send(make_message())

    assert type(caught.value) is expected
    assert caught.value.reason == f"{code}: it went wrong"


def test_the_tables_cover_every_status_and_code_the_spec_documents(
    brevo_spec: dict[str, Any],
) -> None:
    listed = re.findall(r"^\s*\|\s*(\d{3})\s*\|", brevo_spec["info"]["description"], re.M)
    responses = brevo_spec["paths"]["/smtp/email"]["post"]["responses"]
    documented = {int(code) for code in [*listed, *responses] if int(code) >= 400}
    codes = set(brevo_spec["definitions"]["errorModel"]["properties"]["code"]["enum"])

    assert documented <= set(STATUS_CLASSES)
    assert codes == set(CODE_CLASSES)


def test_out_of_credits_is_an_account_error(
    adapter: BrevoAdapter, set_faults: FaultSetter
) -> None:
    set_faults("brevo", failRate=1.0, status=402)

    error = failed_send(adapter, AccountError)

    assert error.reason.startswith("not_enough_credits: ")
    assert error.transient and error.counts_against_health


def test_429_reads_the_reset_header_brevo_sends(
    adapter: BrevoAdapter, set_faults: FaultSetter
) -> None:
    set_faults("brevo", failRate=1.0, status=429, retryAfter=9)

    error = failed_send(adapter, RateLimitedError)

    assert error.retry_after == 9.0


def test_429_without_a_reset_header_leaves_the_wait_unknown(
    adapter: BrevoAdapter, set_faults: FaultSetter
) -> None:
    set_faults("brevo", failRate=1.0, status=429)

    assert failed_send(adapter, RateLimitedError).retry_after is None


def test_retry_after_wins_over_the_reset_header() -> None:
    adapter = answering(
        429, {"code": "too_many_requests", "message": "slow down"},
        {"Retry-After": "3", "x-sib-ratelimit-reset": "30"},
    )

    with pytest.raises(RateLimitedError) as caught:
        adapter.send(make_message())

    assert caught.value.retry_after == 3.0


def test_wrong_key_is_auth_error_and_the_key_stays_out_of_the_error(
    sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> None:
    adapter = BrevoAdapter(api_key="xkeysib-wrong-secret", base_url=sandbox.url,
                           client=http_client)

    error = failed_send(adapter, AuthError)

    assert error.status_code == 401
    assert error.reason == "unauthorized: Key not found"
    assert "wrong-secret" not in str(error) + error.body + repr(adapter)
    assert stats(control) == {"accepted": 0, "rejected": 1}


def test_invalid_body_is_request_rejected_with_brevos_code_and_message(
    adapter: BrevoAdapter,
) -> None:
    with pytest.raises(RequestRejectedError) as caught:
        adapter.send(make_message(subject=""))

    assert caught.value.reason == "missing_parameter: subject is missing"


# -- a refused recipient ----------------------------------------------------------------------


@pytest.mark.parametrize("field", ["to", "cc", "bcc"])
def test_an_address_brevo_finds_invalid_is_a_refused_recipient(field: str) -> None:
    adapter = answering(400, {"code": "invalid_parameter",
                              "message": f"email is not valid in {field}"})

    with pytest.raises(RecipientRejectedError) as caught:
        adapter.send(make_message())

    assert caught.value.status_code == 400


def test_the_fake_refuses_perm_fail_in_cc_as_brevo_does(
    adapter: BrevoAdapter, control: httpx.Client
) -> None:
    message = make_message(cc=(Address("perm-fail@simulator.micromailer.test"),))

    with pytest.raises(RecipientRejectedError) as caught:
        adapter.send(message)

    assert caught.value.reason == "invalid_parameter: email is not valid in cc"
    assert captured(control) == []


@pytest.mark.parametrize(
    "body",
    [{"code": "invalid_parameter", "message": "valid sender email required"},
     {"code": "missing_parameter", "message": "email is not valid in to"}],
)
def test_other_400s_stay_rejected_requests(body: dict[str, str]) -> None:
    with pytest.raises(RequestRejectedError) as caught:
        answering(400, body).send(make_message())

    assert not isinstance(caught.value, RecipientRejectedError)


def test_the_default_sender_of_sandbox_mode_is_accepted(
    adapter: BrevoAdapter, control: httpx.Client
) -> None:
    """``no-reply@localhost`` (``MICROMAILER_SENDER_EMAIL``'s default) must reach the fake."""
    adapter.send(make_message(sender_email="no-reply@localhost"))

    assert captured(control)[0]["fromEmail"] == "no-reply@localhost"
