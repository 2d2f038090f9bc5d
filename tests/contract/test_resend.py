"""ResendAdapter against the fake Resend over real HTTP; its body against Resend's OpenAPI spec."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator

from micromailer.domain.message import Address, Attachment, Message
from micromailer.domain.simulator import ReservedRecipient
from micromailer.providers.base import SendResult
from micromailer.providers.errors import (
    AccountError,
    AuthError,
    ProviderError,
    RateLimitedError,
    RecipientRejectedError,
    RequestRejectedError,
    ServerError,
)
from micromailer.providers.resend import (
    ERROR_CLASSES,
    STATUS_CLASSES,
    ResendAdapter,
    build_payload,
    tag_text,
)
from micromailer.sandbox import SandboxThread
from micromailer.sandbox.simulator import SLOW_SECONDS
from tests.contract.helpers import (
    SANDBOX_KEYS,
    RequestRecorder,
    body_validator,
    failed_send,
    make_message,
    sandbox_messages,
    sandbox_stats,
    schema_errors,
    specs_dir,
    table_rows,
)

FaultSetter = Callable[..., dict[str, Any]]

RESEND_SPEC = "resend/resend.yaml"
BODY_POINTER = "/components/schemas/SendEmailRequest"
#: Every error of resend.com/docs/api-reference/errors, as ``(status, name)``; the spec itself
#: lists no error answer for ``POST /emails``. ``(422, "validation_error")`` is the answer to
#: a malformed address (github.com/resend/resend-python/issues/65).
DOCUMENTED_ERRORS = {
    (400, "invalid_idempotency_key"), (400, "validation_error"), (401, "missing_api_key"),
    (401, "restricted_api_key"), (401, "validation_error"), (403, "invalid_api_key"),
    (403, "validation_error"), (404, "not_found"), (405, "method_not_allowed"),
    (409, "invalid_idempotent_request"), (409, "concurrent_idempotent_requests"),
    (422, "invalid_attachment"), (422, "invalid_from_address"), (422, "invalid_access"),
    (422, "invalid_parameter"), (422, "invalid_region"), (422, "missing_required_field"),
    (422, "validation_error"), (429, "monthly_quota_exceeded"), (429, "daily_quota_exceeded"),
    (429, "rate_limit_exceeded"), (451, "security_error"), (500, "application_error"),
    (500, "internal_server_error"),
}
INVOICE = bytes(range(256)) * 5
LOGO = b"\x89PNG\r\n\x1a\n" + bytes(range(255, -1, -1))
TAG = re.compile(r"[A-Za-z0-9_-]{1,256}")


@pytest.fixture(scope="module")
def resend_spec() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((specs_dir() / RESEND_SPEC).read_text("utf-8"))
    return spec


@pytest.fixture(scope="module")
def body_schema(resend_spec: dict[str, Any]) -> Draft202012Validator:
    """``SendEmailRequest`` of Resend's OpenAPI 3.1 file."""
    return body_validator(resend_spec, BODY_POINTER)


@pytest.fixture
def adapter(
    sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> ResendAdapter:
    return ResendAdapter(api_key=SANDBOX_KEYS["resend"], base_url=sandbox.url, client=http_client)


def captured(control: httpx.Client) -> list[dict[str, Any]]:
    return sandbox_messages(control, "resend")


def stats(control: httpx.Client) -> dict[str, int]:
    return sandbox_stats(control, "resend")


def rich_message(**overrides: Any) -> Message:
    """A message using every field Resend can carry."""
    fields: dict[str, Any] = {
        "cc": (Address("carol@example.com", "Carol"),),
        "bcc": (Address("audit@example.org"),),
        "reply_to": (Address("help@example.org", "Help desk"), Address("second@example.org")),
        "attachments": (
            Attachment("invoice.pdf", "application/pdf", INVOICE),
            Attachment("logo.png", "image/png", LOGO, content_id="logo"),
        ),
        "headers": (("X-Campaign-Ref", "spring-24"),),
        "tags": ("receipt",),
        "metadata": (("order", "42"),),
    }
    fields.update(overrides)
    return make_message(**fields)


def answering(status: int, body: Any, headers: dict[str, str] | None = None) -> ResendAdapter:
    """An adapter whose every call gets this answer."""
    client = httpx.Client(transport=httpx.MockTransport(
        lambda _: httpx.Response(status, json=body, headers=headers)
    ))
    return ResendAdapter(api_key="k", base_url="https://api.resend.test", client=client)


# -- success ------------------------------------------------------------------------------


def test_send_returns_the_id_and_the_fake_captures_the_message(
    adapter: ResendAdapter, control: httpx.Client
) -> None:
    message = make_message()

    result = adapter.send(message)

    assert result.provider == "resend"
    assert result.message_id is not None and uuid.UUID(result.message_id).version == 4
    [stored] = captured(control)
    assert stored["messageId"] == result.message_id
    assert (stored["to"], stored["toName"]) == (message.to[0].email, message.to[0].name)
    assert (stored["fromEmail"], stored["fromName"]) == (message.sender.email, message.sender.name)
    assert (stored["subject"], stored["html"], stored["text"]) == (
        message.subject, message.html, message.text
    )
    assert stored["metadata"] == {"email_id": message.email_id}
    assert stats(control) == {"accepted": 1, "rejected": 0}


def test_request_carries_a_bearer_key_and_the_email_id_as_idempotency_key(
    adapter: ResendAdapter, recorder: RequestRecorder
) -> None:
    message = make_message()
    adapter.send(message)

    request = recorder.last
    assert (request.method, request.url.path) == ("POST", "/emails")
    assert request.headers["authorization"] == f"Bearer {SANDBOX_KEYS['resend']}"
    assert request.headers["idempotency-key"] == message.email_id
    assert request.headers["content-type"] == "application/json"
    assert SANDBOX_KEYS["resend"].encode() not in request.content


def test_request_body_and_idempotency_key_validate_against_resends_openapi_spec(
    adapter: ResendAdapter, recorder: RequestRecorder, body_schema: Draft202012Validator,
    resend_spec: dict[str, Any],
) -> None:
    adapter.send(rich_message())

    assert schema_errors(body_schema, recorder.last_json()) == []
    [parameter] = resend_spec["paths"]["/emails"]["post"]["parameters"]
    assert parameter["name"] == "Idempotency-Key"
    key_schema = Draft202012Validator(parameter["schema"])
    assert schema_errors(key_schema, recorder.last.headers["idempotency-key"]) == []


def test_schema_check_is_not_vacuous(body_schema: Draft202012Validator) -> None:
    """The same validator refuses a body without ``from`` and with 51 ``to`` addresses."""
    body = build_payload(rich_message())
    del body["from"]
    body["to"] = [f"r{n}@example.com" for n in range(51)]

    assert len(schema_errors(body_schema, body)) == 2


def test_the_spec_lists_no_error_answer_so_the_table_follows_resends_errors_page(
    resend_spec: dict[str, Any],
) -> None:
    responses = resend_spec["paths"]["/emails"]["post"]["responses"]

    assert set(responses) == {"200"}
    assert set(ERROR_CLASSES) == DOCUMENTED_ERRORS
    assert {status for status, _ in ERROR_CLASSES} <= set(STATUS_CLASSES)


# -- what the message carries ------------------------------------------------------------------


def test_addresses_travel_formatted_and_each_recipient_is_captured(
    adapter: ResendAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    adapter.send(rich_message())

    body = recorder.last_json()
    assert body["from"] == "Example Billing <billing@example.org>"
    assert body["to"] == ["Alice Example <alice@example.com>"]
    assert body["cc"] == ["Carol <carol@example.com>"]
    assert body["bcc"] == ["audit@example.org"]
    assert body["reply_to"] == ["Help desk <help@example.org>", "second@example.org"]
    assert "audit@example.org" not in str(body["headers"])
    stored = captured(control)
    assert [(m["to"], m["field"]) for m in stored] == [
        ("alice@example.com", "to"), ("carol@example.com", "cc"), ("audit@example.org", "bcc")
    ]
    assert stored[2]["replyTo"] == ["Help desk <help@example.org>", "second@example.org"]
    assert stats(control) == {"accepted": 3, "rejected": 0}


def test_attachments_arrive_byte_for_byte_and_the_inline_image_keeps_its_content_id(
    adapter: ResendAdapter, control: httpx.Client
) -> None:
    adapter.send(rich_message())

    files = {item["filename"]: item for item in captured(control)[0]["attachments"]}
    assert files["invoice.pdf"]["sha256"] == hashlib.sha256(INVOICE).hexdigest()
    assert files["invoice.pdf"]["contentType"] == "application/pdf"
    assert files["invoice.pdf"]["contentId"] is None
    assert files["logo.png"]["sha256"] == hashlib.sha256(LOGO).hexdigest()
    assert files["logo.png"]["contentId"] == "logo"


def test_email_id_metadata_and_tags_travel_as_resend_tags(
    adapter: ResendAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    message = rich_message()
    adapter.send(message)

    assert recorder.last_json()["tags"] == [
        {"name": "email_id", "value": message.email_id},
        {"name": "order", "value": "42"},
        {"name": "receipt", "value": "true"},
    ]
    stored = captured(control)[0]
    assert stored["metadata"] == {"email_id": message.email_id, "order": "42", "receipt": "true"}
    assert stored["tags"] == ["email_id", "order", "receipt"]


def test_tags_outside_resends_character_set_are_sanitised_and_accepted(
    adapter: ResendAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    message = make_message(
        tags=("spring sale", "x" * 300), metadata=(("Größe", "L/XL"), ("email_id", "forged"))
    )

    adapter.send(message)

    tags = recorder.last_json()["tags"]
    assert all(TAG.fullmatch(tag["name"]) and TAG.fullmatch(tag["value"]) for tag in tags)
    assert {tag["name"]: tag["value"] for tag in tags} == {
        "email_id": message.email_id, "Gr__e": "L_XL", "spring_sale": "true", "x" * 256: "true"
    }
    assert len(captured(control)) == 1


@pytest.mark.parametrize(("text", "expected"), [("", "_"), ("ok-1_2", "ok-1_2"), ("a.b", "a_b")])
def test_tag_text_keeps_only_resends_characters(text: str, expected: str) -> None:
    assert tag_text(text) == expected


def test_custom_headers_pass_as_an_object(
    adapter: ResendAdapter, recorder: RequestRecorder, control: httpx.Client
) -> None:
    adapter.send(rich_message())

    assert recorder.last_json()["headers"] == {"X-Campaign-Ref": "spring-24"}
    assert captured(control)[0]["headers"] == {"X-Campaign-Ref": "spring-24"}


def test_to_takes_at_most_fifty_and_capabilities_say_so(adapter: ResendAdapter) -> None:
    crowd = tuple(Address(f"r{n}@example.com") for n in range(51))
    message = make_message(to=crowd)

    assert ResendAdapter.capabilities.refusal(message) == (
        "takes at most 50 recipients and this message has 51"
    )
    with pytest.raises(RequestRejectedError, match="at most 50"):
        adapter.send(message)


def test_a_blocked_extension_is_refused_by_capabilities() -> None:
    script = make_message(attachments=(Attachment("setup.EXE", "application/x-msdos", b"MZ"),))

    assert ResendAdapter.capabilities.refusal(script) == "refuses attachments such as 'setup.EXE'"


# -- idempotency ------------------------------------------------------------------------------


def test_a_retry_of_the_same_email_gets_the_same_id_and_sends_nothing_twice(
    adapter: ResendAdapter, control: httpx.Client
) -> None:
    message = make_message()

    first = adapter.send(message)
    second = adapter.send(message)

    assert second.message_id == first.message_id
    assert len(captured(control)) == 1
    assert stats(control) == {"accepted": 1, "rejected": 0}


def test_the_same_email_id_with_another_body_is_a_rejected_request(
    adapter: ResendAdapter, control: httpx.Client
) -> None:
    message = make_message()
    adapter.send(message)

    error = failed_send_of(adapter, dataclasses.replace(message, subject="Changed"))

    assert type(error) is RequestRejectedError
    assert error.status_code == 409
    assert error.reason.startswith("invalid_idempotent_request: ")
    assert len(captured(control)) == 1


def test_the_same_email_while_the_first_call_is_in_flight_may_pass_later(
    sandbox: SandboxThread, adapter: ResendAdapter, control: httpx.Client
) -> None:
    """``slow@`` holds the first call; the second meets ``concurrent_idempotent_requests``."""
    message = make_message(to_email=ReservedRecipient.SLOW.address)
    results: list[SendResult] = []
    with httpx.Client(timeout=SLOW_SECONDS + 10, trust_env=False) as slow_client:
        patient = ResendAdapter(api_key=SANDBOX_KEYS["resend"], base_url=sandbox.url,
                                client=slow_client)
        first = threading.Thread(target=lambda: results.append(patient.send(message)))
        first.start()
        time.sleep(0.5)
        error = failed_send_of(adapter, message)
        first.join()

    assert type(error) is ServerError and error.transient
    assert error.reason.startswith("concurrent_idempotent_requests: ")
    assert adapter.send(message).message_id == results[0].message_id
    assert len(captured(control)) == 1


def test_an_email_id_longer_than_resend_takes_is_refused(adapter: ResendAdapter) -> None:
    error = failed_send_of(adapter, make_message(email_id="e" * 257))

    assert type(error) is RequestRejectedError
    assert error.reason.startswith("invalid_idempotency_key: ")


def failed_send_of(adapter: ResendAdapter, message: Message) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        adapter.send(message)
    return caught.value


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "expected"), table_rows(STATUS_CLASSES))
def test_each_status_of_the_table_raises_its_class(
    adapter: ResendAdapter, set_faults: FaultSetter, status: int, expected: type[ProviderError]
) -> None:
    """The fake answers each status with the ``name`` Resend's errors page gives it."""
    set_faults("resend", failRate=1.0, status=status)

    error = failed_send(adapter)

    assert type(error) is expected
    assert error.status_code == status


@pytest.mark.parametrize(("answer", "expected"), table_rows(ERROR_CLASSES))
def test_each_status_and_name_of_the_table_raises_its_class(
    answer: tuple[int, str], expected: type[ProviderError]
) -> None:
    status, name = answer
    body = {"statusCode": status, "name": name, "message": "it went wrong"}

    with pytest.raises(ProviderError) as caught:
        answering(status, body).send(make_message())

    assert type(caught.value) is expected
    assert caught.value.reason == f"{name}: it went wrong"


@pytest.mark.parametrize(
    ("status", "expected"),
    [(401, AuthError), (409, ServerError), (429, RateLimitedError), (422, RequestRejectedError)],
)
def test_an_unknown_name_falls_back_on_the_status(
    status: int, expected: type[ProviderError]
) -> None:
    body = {"statusCode": status, "name": "novel_error", "message": "new"}

    with pytest.raises(ProviderError) as caught:
        answering(status, body).send(make_message())

    assert type(caught.value) is expected


def test_a_rate_limit_may_pass_soon_but_a_spent_quota_is_the_accounts() -> None:
    quick = answering(429, {"statusCode": 429, "name": "rate_limit_exceeded", "message": "m"},
                      {"retry-after": "1"})
    spent = answering(429, {"statusCode": 429, "name": "daily_quota_exceeded", "message": "m"})

    with pytest.raises(RateLimitedError) as limited:
        quick.send(make_message())
    with pytest.raises(AccountError):
        spent.send(make_message())

    assert limited.value.retry_after == 1.0


def test_429_reads_retry_after_from_the_fake(
    adapter: ResendAdapter, set_faults: FaultSetter
) -> None:
    set_faults("resend", failRate=1.0, status=429, retryAfter=4)

    error = failed_send(adapter, RateLimitedError)

    assert error.retry_after == 4.0
    assert error.reason.startswith("rate_limit_exceeded: ")


def test_429_without_a_wait_leaves_it_unknown(
    adapter: ResendAdapter, set_faults: FaultSetter
) -> None:
    set_faults("resend", failRate=1.0, status=429)

    assert failed_send(adapter, RateLimitedError).retry_after is None


def test_ratelimit_reset_is_read_when_retry_after_is_absent() -> None:
    adapter = answering(429, {"statusCode": 429, "name": "rate_limit_exceeded", "message": "m"},
                        {"ratelimit-reset": "6"})

    with pytest.raises(RateLimitedError) as caught:
        adapter.send(make_message())

    assert caught.value.retry_after == 6.0


def test_wrong_key_is_auth_error_and_the_key_stays_out_of_the_error(
    sandbox: SandboxThread, http_client: httpx.Client, control: httpx.Client
) -> None:
    adapter = ResendAdapter(api_key="re_wrong_secret", base_url=sandbox.url, client=http_client)

    error = failed_send(adapter, AuthError)

    assert error.status_code == 401
    assert error.reason == "validation_error: API key is invalid"
    assert "wrong_secret" not in str(error) + error.body + repr(adapter)
    assert stats(control) == {"accepted": 0, "rejected": 1}


def test_no_key_is_missing_api_key_and_read_as_an_auth_error(
    sandbox: SandboxThread, adapter: ResendAdapter
) -> None:
    response = httpx.post(f"{sandbox.url}/emails", json=build_payload(make_message()))

    assert response.status_code == 401
    assert response.json()["name"] == "missing_api_key"
    with pytest.raises(AuthError):
        adapter.read_response(response)


def test_resends_testing_sender_writing_to_others_is_the_accounts_refusal(
    adapter: ResendAdapter, control: httpx.Client
) -> None:
    message = make_message(sender_email="onboarding@resend.dev")

    error = failed_send_of(adapter, message)

    assert type(error) is AccountError and error.status_code == 403
    assert "only send testing emails" in error.reason
    assert captured(control) == []


def test_a_missing_subject_is_missing_required_field(adapter: ResendAdapter) -> None:
    error = failed_send_of(adapter, make_message(subject=""))

    assert type(error) is RequestRejectedError
    assert error.reason == "missing_required_field: Missing `subject` field."


# -- a refused recipient ----------------------------------------------------------------------


@pytest.fixture
def perm_fail_in_bcc() -> Iterator[Message]:
    yield make_message(bcc=(Address(ReservedRecipient.PERM_FAIL.address),))


def test_the_fake_refuses_perm_fail_in_bcc_as_resend_refuses_an_address(
    adapter: ResendAdapter, control: httpx.Client, perm_fail_in_bcc: Message
) -> None:
    error = failed_send_of(adapter, perm_fail_in_bcc)

    assert type(error) is RecipientRejectedError
    assert error.status_code == 422
    assert error.reason.startswith("validation_error: Invalid `bcc` field.")
    assert captured(control) == []


def test_a_refused_call_frees_its_idempotency_key(
    adapter: ResendAdapter, control: httpx.Client, perm_fail_in_bcc: Message
) -> None:
    """The fake keeps a key only for an accepted email, so a corrected retry can pass."""
    failed_send_of(adapter, perm_fail_in_bcc)

    result = adapter.send(dataclasses.replace(perm_fail_in_bcc, bcc=()))

    assert result.message_id
    assert len(captured(control)) == 1


def test_other_validation_errors_stay_rejected_requests() -> None:
    body = {"statusCode": 422, "name": "validation_error", "message": "Invalid `subject` field."}

    with pytest.raises(RequestRejectedError) as caught:
        answering(422, body).send(make_message())

    assert not isinstance(caught.value, RecipientRejectedError)


def test_the_default_sender_of_sandbox_mode_is_accepted(
    adapter: ResendAdapter, control: httpx.Client
) -> None:
    """``no-reply@localhost`` (``MICROMAILER_SENDER_EMAIL``'s default) must reach the fake."""
    adapter.send(make_message(sender_email="no-reply@localhost"))

    assert captured(control)[0]["fromEmail"] == "no-reply@localhost"
