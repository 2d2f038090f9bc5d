"""The OpenAPI document against the validation it describes: the request schema of
``POST /email`` refuses what the header-field rule refuses, allows only what the server
accepts, and no operation lists FastAPI's 422, which this API never sends."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from micromailer.api.app import create_app
from micromailer.api.request_schema import WHITESPACE_CLASS
from micromailer.config import Settings
from micromailer.domain.header_text import first_forbidden
from micromailer.domain.validation import InvalidEmailRequest, parse_email_request

VALID = {"to": "jane@example.com", "to_name": "Jane", "subject": "Hello", "content": "Hi"}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("doc"), _env_file=None)  # type: ignore[call-arg]
    return create_app(settings).openapi()


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
    {**VALID, "to": "Jane <jane@example.com>"},
], ids=repr)
def test_what_the_server_refuses_the_schema_refuses(
    document: dict[str, Any], body: dict[str, Any],
) -> None:
    assert not accepted(body)
    assert not body_schema(document, "application/json").is_valid(body)


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
