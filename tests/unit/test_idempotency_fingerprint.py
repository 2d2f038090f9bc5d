"""``Idempotency-Key``'s syntax and the request's fingerprint: the same fields, however they
were sent, give the same fingerprint; any change of a field gives another."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from micromailer.api.intake.form_fields import decode_multipart, decode_urlencoded
from micromailer.api.intake.front import FILE_FIELDS, TEXT_FIELDS
from micromailer.api.intake.json_fields import decode_json
from micromailer.domain.idempotency import fingerprint, valid_key
from micromailer.domain.validation import parse_email_request

FIELDS = {"to": "ada@example.com", "to_name": "Ada", "subject": "Your receipt",
          "content": "Thanks, **Ada**."}


def _multipart(fields: dict[str, str], boundary: str) -> tuple[str, bytes]:
    parts = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        .encode() for name, value in fields.items()
    )
    return f"multipart/form-data; boundary={boundary}", parts + f"--{boundary}--\r\n".encode()


def _of(fields: dict[str, object]) -> str:
    return fingerprint(parse_email_request(fields))


@pytest.mark.parametrize("key", ["a", "0f8fad5b-d9cb-469f-a165-70867728950e",
                                 "order 42 / retry #1", "~" * 255])
def test_printable_ascii_keys_of_1_to_255_characters_are_valid(key: str) -> None:
    assert valid_key(key)


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\tkey", "naïve", "line\nbreak", "\x7f"])
def test_empty_long_or_non_printable_keys_are_not(key: str) -> None:
    assert not valid_key(key)


def test_json_key_order_and_the_encoding_do_not_change_the_fingerprint() -> None:
    reordered = dict(reversed(list(FIELDS.items())))
    content_type_a, body_a = _multipart(FIELDS, "boundary-one")
    content_type_b, body_b = _multipart(reordered, "another-boundary-2")

    prints = {
        _of(decode_json(json.dumps(FIELDS).encode())),
        _of(decode_json(json.dumps(reordered, indent=2).encode())),
        _of(decode_urlencoded(urlencode(FIELDS).encode())),
        _of(decode_multipart(content_type_a, body_a, TEXT_FIELDS, FILE_FIELDS)),
        _of(decode_multipart(content_type_b, body_b, TEXT_FIELDS, FILE_FIELDS)),
    }

    assert len(prints) == 1


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_changing_any_field_changes_the_fingerprint(field: str) -> None:
    changed = {**FIELDS, field: "x" + FIELDS[field] if field != "to" else "bob@example.com"}

    assert _of(changed) != _of(FIELDS)


def test_a_test_keys_request_is_another_request() -> None:
    request = parse_email_request(FIELDS)

    assert fingerprint(request, test=True) != fingerprint(request, test=False)


def test_the_fingerprint_is_a_sha256_in_hex() -> None:
    value = _of(FIELDS)

    assert len(value) == 64 and int(value, 16) >= 0
