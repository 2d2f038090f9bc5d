"""The OpenAPI document against the validation it describes: the request schema of
``POST /email`` refuses what the header-field rule refuses, allows only what the server
accepts, and no operation lists FastAPI's 422, which this API never sends. And against the
gates: the bearer scheme on every operation that needs a key (``security/access.py``), and on
each operation the answers the site checks and the key gate can give."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from micromailer.api.app import create_app
from micromailer.api.request_schema import WHITESPACE_CLASS
from micromailer.api.responses import SECURITY_SCHEME
from micromailer.config import Settings
from micromailer.domain.header_text import first_forbidden
from micromailer.domain.validation import InvalidEmailRequest, parse_email_request
from micromailer.security.access import Access, access_for

VALID = {"to": "jane@example.com", "to_name": "Jane", "subject": "Hello", "content": "Hi"}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("doc"), _env_file=None)  # type: ignore[call-arg]
    return create_app(settings).openapi()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, operation) for path, item in document["paths"].items()
            for method, operation in item.items()]


def body_schema(document: dict[str, Any], media_type: str) -> Draft202012Validator:
    schema = document["paths"]["/email"]["post"]["requestBody"]["content"][media_type]["schema"]
    return Draft202012Validator(schema, format_checker=FormatChecker())


def accepted(body: dict[str, Any]) -> bool:
    try:
        parse_email_request(body)
    except InvalidEmailRequest:
        return False
    return True


def test_no_operation_lists_a_422(document: dict[str, Any]) -> None:
    statuses = {status for item in document["paths"].values() for operation in item.values()
                for status in operation["responses"]}
    assert "422" not in statuses
    assert not {"HTTPValidationError", "ValidationError"} & set(document["components"]["schemas"])


def test_to_name_may_be_null_in_json_but_not_in_a_form(document: dict[str, Any]) -> None:
    body = {**VALID, "to_name": None}
    assert body_schema(document, "application/json").is_valid(body) and accepted(body)
    assert not body_schema(document, "application/x-www-form-urlencoded").is_valid(body)


def test_the_whitespace_class_is_what_str_strip_removes() -> None:
    pattern = re.compile(f"[{WHITESPACE_CLASS}]")
    every = (chr(code) for code in range(sys.maxunicode + 1))
    assert [c for c in every if c.isspace() != bool(pattern.fullmatch(c))] == []


@pytest.mark.parametrize("field", ["to_name", "subject"])
def test_a_header_field_pattern_refuses_exactly_the_refused_characters(
    document: dict[str, Any], field: str,
) -> None:
    schema = body_schema(document, "application/json")
    wrong = [hex(code) for code in range(0x3000 + 1)
             if schema.is_valid({**VALID, field: f"a{chr(code)}b"})
             == (first_forbidden(chr(code)) is not None)]
    wrong += [hex(code) for code in (0xFEFF, 0xFFFD, 0x1F600)
              if schema.is_valid({**VALID, field: f"a{chr(code)}b"})
              == (first_forbidden(chr(code)) is not None)]
    assert wrong == []


@pytest.mark.parametrize("body", [
    {**VALID, "subject": "\u00a0 Invoice"},
    {**VALID, "subject": "👩\u200d💻 ship it"},
    {**VALID, "to_name": "\u0645\u062d\u0645\u062f \u200c\u0631\u0636\u0627"},
    {**VALID, "to_name": "   "},
    {**VALID, "content": "\t\u0001 control characters are fine in Markdown"},
    {**VALID, "to": f"{'a' * 64}@example.com"},
    {**VALID, "to": "jane@mail.example"},
    {**VALID, "to": ["jane@example.com", "bob@example.com"], "cc": "carol@example.com",
     "bcc": ["dan@example.com"], "reply_to": "help@example.com"},
    {"to": "jane@example.com", "subject": "Hi", "html": "<p>Hi</p>", "text": "Hi"},
    {"to": "jane@example.com", "subject": "Hi", "text": "Hi"},
    {**VALID, "tags": ["receipt", "2026-q4"], "metadata": {"order": "42", "Shop-Id": ""},
     "headers": {"X-Campaign": "spring", "List-Unsubscribe": "<mailto:u@example.com>"}},
    {**VALID, "attachments": [
        {"filename": "receipt.pdf", "contentType": "application/pdf", "content": "JVBERi0="},
        {"filename": "logo.png", "contentType": "image/png", "content": "iVBORw==",
         "contentId": "logo"}]},
], ids=repr)
def test_what_the_schema_allows_the_server_accepts(
    document: dict[str, Any], body: dict[str, Any],
) -> None:
    assert body_schema(document, "application/json").is_valid(body)
    assert accepted(body)


@pytest.mark.parametrize("body", [
    {**VALID, "subject": " \u3000\u00a0"},
    {**VALID, "subject": "two\nlines"},
    {**VALID, "content": " \n\t\u2028"},
    {**VALID, "content": "a\u0000b"},
    {**VALID, "to": "jane@printer.local"},
    {**VALID, "to": "jane@EXAMPLE.TEST"},
    {**VALID, "to": ["jane@example.com", "bob@printer.local"]},
    {**VALID, "html": "<p>Hi</p>"},
    {**VALID, "tags": ["_reserved"]},
    {**VALID, "headers": {"Bcc": "spy@example.com"}},
    {**VALID, "headers": {"X-SG-EID": "forged"}},
    {**VALID, "metadata": {"email_id": "forged"}},
    {**VALID, "attachments": [{"filename": "../a.pdf", "contentType": "application/pdf",
                               "content": "aGk="}]},
    {**VALID, "attachments": [{"filename": "a.pdf", "contentType": "application/pdf",
                               "content": "not base64!"}]},
], ids=repr)
def test_what_the_server_refuses_the_schema_refuses(
    document: dict[str, Any], body: dict[str, Any],
) -> None:
    assert not accepted(body)
    assert not body_schema(document, "application/json").is_valid(body)


@pytest.mark.parametrize("body", [
    {**VALID, "to": "Jane Doe <jane@example.com>"},
    {**VALID, "to": [{"email": "jane@example.com", "name": "Jane"}]},
    {**VALID, "to": "jane@example.com, bob@example.com"},
], ids=repr)
def test_the_schema_errs_on_the_strict_side_for_named_addresses(
    document: dict[str, Any], body: dict[str, Any],
) -> None:
    """The server takes these forms too, as the field's description says."""
    assert accepted(body)
    assert not body_schema(document, "application/json").is_valid(body)


def test_from_is_limited_to_the_sender_domains_in_the_document(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, sender_domains="example.org",  # type: ignore[call-arg]
                        _env_file=None)
    schema = create_app(settings).openapi()["paths"]["/email"]["post"]["requestBody"][
        "content"]["application/json"]["schema"]
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    assert validator.is_valid({**VALID, "from": "billing@Example.ORG"})
    assert not validator.is_valid({**VALID, "from": "billing@example.com"})
    assert parse_email_request({**VALID, "from": "billing@Example.ORG"}, ["example.org"])
    with pytest.raises(InvalidEmailRequest):
        parse_email_request({**VALID, "from": "billing@example.com"}, ["example.org"])


def test_with_the_default_sender_domain_no_from_is_valid(document: dict[str, Any]) -> None:
    """The default sender is no-reply@localhost: a special-use name, refused as any address."""
    assert not body_schema(document, "application/json").is_valid(
        {**VALID, "from": "me@localhost"})


def test_a_local_part_over_64_characters_is_outside_the_schema(document: dict[str, Any]) -> None:
    assert not body_schema(document, "application/json").is_valid(
        {**VALID, "to": f"{'a' * 65}@example.com"})


def test_the_served_document_is_the_one_checked(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    app = create_app(settings)
    with TestClient(app) as client:
        served = client.get("/openapi.json").json()
    assert served == app.openapi()


# -- The gates' answers ----------------------------------------------------------------------

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
PROBES = {"/healthz", "/readyz"}


def test_the_bearer_scheme_is_declared(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"][SECURITY_SCHEME]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert "Authorization: Bearer <key>" in scheme["description"]
    assert "security" not in document  # no global requirement: the public paths need none


def test_every_operation_that_needs_a_key_requires_the_scheme_and_no_other_does(
    document: dict[str, Any],
) -> None:
    keyed = {(method, path) for method, path, operation in operations(document)
             if operation.get("security") == [{SECURITY_SCHEME: []}]}
    public = {(method, path) for method, path, operation in operations(document)
              if "security" not in operation}
    assert public == {("GET", "/"), ("GET", "/healthz"), ("GET", "/readyz"),
                      ("POST", "/webhooks/{provider}")}
    assert len(keyed) + len(public) == len(operations(document)) == 25
    for _, path in keyed:
        assert access_for(path) is not Access.PUBLIC
    for _, path in public:
        assert access_for(path) is Access.PUBLIC


def test_every_keyed_operation_documents_the_key_gate_answers(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        if "security" not in operation:
            # The webhooks' 401 is their provider's signature check, not the key gate's.
            gate = {"429"} if path == "/webhooks/{provider}" else {"401", "429"}
            assert not gate & set(operation["responses"]), (method, path)
            continue
        responses = operation["responses"]
        for status in ("401", "403", "429", "503"):
            assert responses[status]["content"]["application/json"]["schema"] == ERROR_REF, (
                method, path, status)
        assert "WWW-Authenticate" in responses["401"]["headers"]
        assert {"Retry-After", "RateLimit", "RateLimit-Policy"} <= set(responses["429"]["headers"])
        assert "Retry-After" in responses["503"]["headers"]
        successes = [status for status in responses if status.startswith("2")]
        assert successes, (method, path)
        for status in successes:
            assert {"RateLimit", "RateLimit-Policy"} <= set(responses[status]["headers"])
            assert "draft-ietf-httpapi-ratelimit-headers" in (
                responses[status]["headers"]["RateLimit"]["description"])


def test_admin_operations_document_their_403(document: dict[str, Any]) -> None:
    admin = {(method, path) for method, path, operation in operations(document)
             if "Admin only" in operation["responses"].get("403", {}).get("description", "")}
    assert admin == {("GET", "/metrics"), ("GET", "/sandbox"),
                     ("PUT", "/sandbox/{provider}/outage"),
                     ("GET", "/sandbox/{provider}/messages")}
    assert all(access_for(path) is Access.ADMIN for _, path in admin)


def test_every_operation_documents_the_site_checks(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        responses = operation["responses"]
        assert "Another site" in responses["403"]["description"], (method, path)
        if path in PROBES:  # they answer whatever the Host
            assert "Host not allowed" not in responses.get("400", {}).get("description", "")
        else:
            assert "Host not allowed" in responses["400"]["description"], (method, path)


def test_an_operation_keeps_its_own_answer_beside_the_gates(document: dict[str, Any]) -> None:
    responses = document["paths"]["/email"]["post"]["responses"]
    assert responses["400"]["description"].startswith("The body is not a valid email")
    assert "Host not allowed" in responses["400"]["description"]
    assert responses["202"]["headers"]["Location"]
    readiness = document["paths"]["/readyz"]["get"]["responses"]["503"]
    assert readiness["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ReadinessOut"}


def test_post_email_documents_the_idempotency_key_and_its_409(document: dict[str, Any]) -> None:
    operation = document["paths"]["/email"]["post"]
    (parameter,) = [p for p in operation.get("parameters", []) if p["name"] == "Idempotency-Key"]
    assert (parameter["in"], parameter["required"]) == ("header", False)
    schema = Draft202012Validator(parameter["schema"])
    assert schema.is_valid("5f0c6a4e-2b7d-4c1a-9a55-0d8e3b1f7c21")
    assert schema.is_valid("!" * 255) and schema.is_valid("~")
    for refused in ("", "k" * 256, "a b", "caf\u00e9", "tab\there", "new\nline"):
        assert not schema.is_valid(refused), refused
    assert operation["responses"]["409"]["content"]["application/json"]["schema"] == ERROR_REF
    assert "Idempotency-Key" in operation["responses"]["409"]["description"]


def test_a_batch_item_is_post_emails_json_body_with_the_same_sender_domains(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path, sender_domains="example.org",  # type: ignore[call-arg]
                        _env_file=None)
    paths = create_app(settings).openapi()["paths"]
    single = paths["/email"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    batch = paths["/emails"]["post"]["requestBody"]["content"]
    assert list(batch) == ["application/json"]
    emails = batch["application/json"]["schema"]["properties"]["emails"]
    assert emails["items"] == single
    assert (emails["minItems"], emails["maxItems"]) == (1, 500)
    assert single["properties"]["from"]["pattern"]
    assert "207" in paths["/emails"]["post"]["responses"]


def test_retry_documents_its_202_404_and_409(document: dict[str, Any]) -> None:
    responses = document["paths"]["/email/{email_id}/retry"]["post"]["responses"]
    assert responses["202"]["headers"]["Location"]
    assert responses["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/NotFoundBody"}
    assert "only a failed email can be retried" in responses["409"]["description"]
